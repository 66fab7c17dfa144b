import Foundation

/// A weights-only unpickler: it decodes the opcodes `torch.save` emits and builds values for a fixed allowlist of
/// globals. It never imports or calls anything; any other global is refused with an error naming it.
struct Unpickler {
    /// Resolves a persistent id `('storage', type, key, location, numel)` to storage bytes.
    typealias StorageLoader = (_ dtype: TensorDType, _ key: String, _ numel: Int) throws -> TensorStorage

    /// Globals the unpickler will construct (everything else is refused).
    static let allowedGlobals: Set<String> = {
        var s: Set<String> = [
            "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
            "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "torch.Size",
            "torch.storage.UntypedStorage", "torch.UntypedStorage", "argparse.Namespace", "_codecs.encode",
            "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset",
            "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype"
        ]
        for t in TensorDType.allCases { s.insert("torch." + t.torchStorageName); s.insert("torch." + t.torchName) }
        for a in ["float", "double", "half", "long", "int", "short"] { s.insert("torch." + a) }
        return s
    }()

    final class ListBox { var items: [Item] = [] }
    final class DictBox {
        var entries: [(Item, Item)] = []
        let ordered: Bool
        init(ordered: Bool) { self.ordered = ordered }
    }
    final class ObjectBox {
        let name: String
        var state: Item = .value(.none)
        init(name: String) { self.name = name }
    }

    indirect enum Item {
        case mark
        case value(PickleValue)
        case list(ListBox)
        case dict(DictBox)
        case tuple([Item])
        case object(ObjectBox)
        case global(String)
        case storage(TensorStorage)
        case numpyDtype(String)
    }

    private let data: UnsafeRawBufferPointer
    private let source: String
    let loadStorage: StorageLoader?
    private var pos = 0
    private var stack: [Item] = []
    private var marks: [Int] = []
    private var memo: [Int: Item] = [:]

    init(data: UnsafeRawBufferPointer, source: String, loadStorage: StorageLoader?) {
        self.data = data
        self.source = source
        self.loadStorage = loadStorage
    }

    func fail(_ m: String) -> TensorFileError { TensorFileError(source, "pickle: \(m)") }

    // MARK: reading primitives

    private mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= data.count - pos else {
            throw fail("truncated: needed \(n) bytes at offset \(pos) of \(data.count)")
        }
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: data[pos ..< (pos + n)])
    }

    private mutating func u8() throws -> Int { Int(try take(1)[0]) }
    private mutating func u16() throws -> Int { Int(try take(2).loadUnaligned(as: UInt16.self).littleEndian) }
    private mutating func u32() throws -> Int { Int(try take(4).loadUnaligned(as: UInt32.self).littleEndian) }
    private mutating func i32() throws -> Int { Int(try take(4).loadUnaligned(as: Int32.self).littleEndian) }
    private mutating func u64() throws -> Int {
        let v = try take(8).loadUnaligned(as: UInt64.self).littleEndian
        guard v <= UInt64(Int.max) else { throw fail("length \(v) out of range") }
        return Int(v)
    }

    private mutating func line() throws -> String {
        guard let nl = data[pos...].firstIndex(of: 0x0A) else {
            throw fail("truncated: unterminated text argument at offset \(pos)")
        }
        let s = String(decoding: data[pos ..< nl], as: UTF8.self)
        pos = nl + 1
        return s
    }

    private mutating func utf8(_ n: Int) throws -> PickleValue {
        guard let s = String(validating: try take(n), as: UTF8.self) else {
            throw fail("invalid UTF-8 string at offset \(pos - n)")
        }
        return .string(s)
    }

    /// Little-endian two's-complement integer of `n` bytes (LONG1/LONG4); must fit in 64 bits.
    private mutating func long(_ n: Int) throws -> Int {
        let b = try take(n)
        guard n > 0 else { return 0 }
        let negative = b[n - 1] & 0x80 != 0
        for i in min(n, 8) ..< n where b[i] != (negative ? 0xFF : 0) { throw fail("integer wider than 64 bits") }
        var v: UInt64 = negative ? .max : 0
        for i in stride(from: min(n, 8) - 1, through: 0, by: -1) { v = (v << 8) | UInt64(b[i]) }
        let r = Int(bitPattern: UInt(v))
        guard n <= 8 || (r < 0) == negative else { throw fail("integer wider than 64 bits") }
        return r
    }

    // MARK: stack

    private mutating func pop() throws -> Item {
        guard let top = stack.popLast() else { throw fail("stack underflow at offset \(pos - 1)") }
        if case .mark = top { throw fail("unexpected MARK at offset \(pos - 1)") }
        return top
    }

    private mutating func popMark() throws -> [Item] {
        guard let m = marks.popLast() else { throw fail("no MARK for opcode at offset \(pos - 1)") }
        let items = Array(stack[(m + 1)...])
        stack.removeSubrange(m...)
        return items
    }

    private mutating func push(_ v: PickleValue) { stack.append(.value(v)) }

    private func memoKey(_ item: Item) throws -> Item {
        if case .mark = item { throw fail("cannot memoize MARK") }
        return item
    }

    // MARK: main loop

    /// Runs the pickle program to STOP and returns the result.
    mutating func load() throws -> PickleValue {
        while true {
            let at = pos
            let op = try u8()
            switch op {
            case 0x80: _ = try u8()  // PROTO
            case 0x95: _ = try u64()  // FRAME
            case 0x2E:  // STOP
                let result = try pop()
                return try finish(result, depth: 0)
            case 0x28: marks.append(stack.count); stack.append(.mark)  // MARK
            case 0x7D: stack.append(.dict(DictBox(ordered: false)))  // EMPTY_DICT
            case 0x5D: stack.append(.list(ListBox()))  // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
            case 0x8F: stack.append(.list(ListBox()))  // EMPTY_SET
            case 0x74: stack.append(.tuple(try popMark()))  // TUPLE
            case 0x85: let a = try pop(); stack.append(.tuple([a]))
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))
            case 0x6C: let box = ListBox(); box.items = try popMark(); stack.append(.list(box))  // LIST
            case 0x91: let box = ListBox(); box.items = try popMark(); stack.append(.list(box))  // FROZENSET
            case 0x64:  // DICT
                let box = DictBox(ordered: false)
                try setItems(box, try popMark())
                stack.append(.dict(box))
            case 0x58: push(try utf8(try u32()))  // BINUNICODE
            case 0x8C: push(try utf8(try u8()))  // SHORT_BINUNICODE
            case 0x8D: push(try utf8(try u64()))  // BINUNICODE8
            case 0x54: push(.string(String(decoding: try take(try i32()), as: UTF8.self)))  // BINSTRING
            case 0x55: push(.string(String(decoding: try take(try u8()), as: UTF8.self)))  // SHORT_BINSTRING
            case 0x42: push(.bytes([UInt8](try take(try u32()))))  // BINBYTES
            case 0x43: push(.bytes([UInt8](try take(try u8()))))  // SHORT_BINBYTES
            case 0x8E, 0x96: push(.bytes([UInt8](try take(try u64()))))  // BINBYTES8, BYTEARRAY8
            case 0x4A: push(.int(try i32()))  // BININT
            case 0x4B: push(.int(try u8()))  // BININT1
            case 0x4D: push(.int(try u16()))  // BININT2
            case 0x8A: push(.int(try long(try u8())))  // LONG1
            case 0x8B: push(.int(try long(try i32())))  // LONG4
            case 0x49:  // INT (text)
                let s = try line()
                if s == "00" {
                    push(.bool(false))
                } else if s == "01" {
                    push(.bool(true))
                } else {
                    guard let i = Int(s) else { throw fail("bad INT '\(s)'") }
                    push(.int(i))
                }
            case 0x4C:  // LONG (text)
                let s = try line()
                guard let i = Int(s.hasSuffix("L") ? String(s.dropLast()) : s) else { throw fail("bad LONG '\(s)'") }
                push(.int(i))
            case 0x47:  // BINFLOAT
                push(.double(Double(bitPattern: try take(8).loadUnaligned(as: UInt64.self).bigEndian)))
            case 0x46:  // FLOAT (text)
                let s = try line()
                guard let d = Double(s) else { throw fail("bad FLOAT '\(s)'") }
                push(.double(d))
            case 0x88: push(.bool(true))
            case 0x89: push(.bool(false))
            case 0x4E: push(.none)
            case 0x73:  // SETITEM
                let v = try pop(), k = try pop()
                guard case .dict(let box)? = stack.last else { throw fail("SETITEM on a non-dict at offset \(at)") }
                box.entries.append((k, v))
            case 0x75:  // SETITEMS
                let items = try popMark()
                guard case .dict(let box)? = stack.last else { throw fail("SETITEMS on a non-dict at offset \(at)") }
                try setItems(box, items)
            case 0x61:  // APPEND
                let v = try pop()
                guard case .list(let box)? = stack.last else { throw fail("APPEND on a non-list at offset \(at)") }
                box.items.append(v)
            case 0x65, 0x90:  // APPENDS, ADDITEMS
                let items = try popMark()
                guard case .list(let box)? = stack.last else { throw fail("APPENDS on a non-list at offset \(at)") }
                box.items.append(contentsOf: items)
            case 0x71: memo[try u8()] = try memoKey(try top())  // BINPUT
            case 0x72: memo[try u32()] = try memoKey(try top())  // LONG_BINPUT
            case 0x70:  // PUT (text)
                let s = try line()
                guard let i = Int(s) else { throw fail("bad PUT '\(s)'") }
                memo[i] = try memoKey(try top())
            case 0x94: memo[memo.count] = try memoKey(try top())  // MEMOIZE
            case 0x68: try get(try u8())  // BINGET
            case 0x6A: try get(try u32())  // LONG_BINGET
            case 0x67:  // GET (text)
                let s = try line()
                guard let i = Int(s) else { throw fail("bad GET '\(s)'") }
                try get(i)
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32: stack.append(try top())  // DUP
            case 0x63:  // GLOBAL
                let module = try line(), name = try line()
                stack.append(try global(module, name))
            case 0x93:  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case .value(.string(let n)) = name, case .value(.string(let m)) = module else {
                    throw fail("STACK_GLOBAL needs two strings")
                }
                stack.append(try global(m, n))
            case 0x52:  // REDUCE
                let args = try pop(), callable = try pop()
                guard case .tuple(let a) = args else { throw fail("REDUCE arguments are not a tuple at offset \(at)") }
                stack.append(try reduce(callable, a))
            case 0x81:  // NEWOBJ
                let args = try pop(), cls = try pop()
                stack.append(try newObject(cls, args))
            case 0x92:  // NEWOBJ_EX
                _ = try pop()
                let args = try pop(), cls = try pop()
                stack.append(try newObject(cls, args))
            case 0x62:  // BUILD
                let state = try pop()
                try build(try top(), state)
            case 0x51:  // BINPERSID
                stack.append(try persistent(try pop()))
            default:
                throw fail(String(format: "unsupported opcode 0x%02x at offset %d", op, at))
            }
        }
    }

    private func top() throws -> Item {
        guard let t = stack.last else { throw fail("stack underflow at offset \(pos - 1)") }
        return t
    }

    private mutating func get(_ i: Int) throws {
        guard let v = memo[i] else { throw fail("memo key \(i) not found at offset \(pos)") }
        stack.append(v)
    }

    private func setItems(_ box: DictBox, _ items: [Item]) throws {
        guard items.count % 2 == 0 else { throw fail("odd number of items for a dict") }
        for i in stride(from: 0, to: items.count, by: 2) { box.entries.append((items[i], items[i + 1])) }
    }
}
