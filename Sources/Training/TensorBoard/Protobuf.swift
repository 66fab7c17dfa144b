import Foundation

/// A minimal protocol-buffer writer (proto3 wire format: varints, 64/32-bit fixed, length-delimited fields) for the
/// few TensorBoard messages stmae writes (`TensorBoardEvent`).
struct ProtoWriter {
    private(set) var data = Data()

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            data.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        data.append(UInt8(v))
    }
    private mutating func key(_ field: Int, _ wire: UInt64) { varint(UInt64(field) << 3 | wire) }
    /// int32 / int64 field (wire type 0; negative values as ten-byte two's complement, as protobuf does).
    mutating func int(_ field: Int, _ v: Int64) { key(field, 0); varint(UInt64(bitPattern: v)) }
    /// double field (wire type 1, little-endian).
    mutating func double(_ field: Int, _ v: Double) {
        key(field, 1)
        withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) }
    }
    /// float field (wire type 5, little-endian).
    mutating func float(_ field: Int, _ v: Float) {
        key(field, 5)
        withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) }
    }
    /// bytes / string / embedded message field (wire type 2).
    mutating func bytes(_ field: Int, _ v: Data) { key(field, 2); varint(UInt64(v.count)); data.append(v) }
    mutating func string(_ field: Int, _ v: String) { bytes(field, Data(v.utf8)) }
    mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var m = ProtoWriter()
        build(&m)
        bytes(field, m.data)
    }
}

/// The parts of TensorFlow's `Event` (tensorflow/core/util/event.proto) and `Summary` (summary.proto) stmae writes:
/// Event{wall_time=1, step=2, file_version=3, summary=5}, Summary{value=1}, Summary.Value{tag=1, simple_value=2,
/// image=4}, Summary.Image{height=1, width=2, colorspace=3, encoded_image_string=4}.
public enum TensorBoardEvent {
    /// The first event of every file: `file_version: "brain.Event:2"`.
    public static func fileVersion(wallTime: Double) -> Data {
        var e = ProtoWriter()
        e.double(1, wallTime)
        e.string(3, "brain.Event:2")
        return e.data
    }

    /// One scalar summary (`add_scalar`).
    public static func scalar(_ tag: String, _ value: Float, step: Int64, wallTime: Double) -> Data {
        summary(step: step, wallTime: wallTime) { v in
            v.string(1, tag)
            v.float(2, value)
        }
    }

    /// One image summary (`add_image`): an encoded PNG; colorspace 3 = RGB.
    public static func image(
        _ tag: String, png: Data, width: Int, height: Int, channels: Int = 3, step: Int64, wallTime: Double
    ) -> Data {
        summary(step: step, wallTime: wallTime) { v in
            v.string(1, tag)
            v.message(4) { im in
                im.int(1, Int64(height))
                im.int(2, Int64(width))
                im.int(3, Int64(channels))
                im.bytes(4, png)
            }
        }
    }

    static func summary(step: Int64, wallTime: Double, value: (inout ProtoWriter) -> Void) -> Data {
        var e = ProtoWriter()
        e.double(1, wallTime)
        e.int(2, step)
        e.message(5) { s in s.message(1, value) }
        return e.data
    }
}

/// TFRecord framing: u64 length (LE), masked CRC-32C of those 8 bytes, the data, masked CRC-32C of the data.
public func tfRecord(_ payload: Data) -> Data {
    var out = Data()
    var len = UInt64(payload.count).littleEndian
    let lenBytes = withUnsafeBytes(of: &len) { Data($0) }
    out.append(lenBytes)
    var c1 = CRC32C.masked(lenBytes).littleEndian
    withUnsafeBytes(of: &c1) { out.append(contentsOf: $0) }
    out.append(payload)
    var c2 = CRC32C.masked(payload).littleEndian
    withUnsafeBytes(of: &c2) { out.append(contentsOf: $0) }
    return out
}
