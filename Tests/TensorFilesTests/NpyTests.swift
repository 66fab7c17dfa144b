import Foundation
import TestSupport
import Testing
@testable import TensorFiles

struct NpyTests {
    @Test func readsNumpyFiles() throws {
        let e = try Npy.read(path: Fixture.path("embeddings.npy"))
        #expect(e.dtype == .float32 && e.shape == [3, 4])
        #expect(try e.scalars(as: Float.self) == (0 ..< 12).map { Float($0) / 4 })
        let f = try Npy.read(path: Fixture.path("fortran.npy"))
        #expect(f.shape == [2, 3])
        #expect(try f.scalars(as: Int16.self) == [0, 1, 2, 3, 4, 5])
    }

    @Test(arguments: TensorDType.allCases.filter { $0.numpyDescr != nil })
    func roundTrip(_ dtype: TensorDType) throws {
        let tmp = try TempDir("npy"), dir = tmp.path
        for shape in [[5, 7], [4], [], [0, 3]] {
            let t = try sampleTensor(dtype, shape: shape)
            try Npy.write(t, to: dir + "/x.npy")
            let size = try FileManager.default.attributesOfItem(atPath: dir + "/x.npy")[.size] as! Int
            #expect((size - t.bytes.count) % 64 == 0)
            #expect(try Npy.read(path: dir + "/x.npy") == t)
        }
    }

    @Test func rejectsBadInput() throws {
        let tmp = try TempDir("npy"), dir = tmp.path
        expectError("numpy has no bfloat16") {
            try Npy.write(try sampleTensor(.bfloat16, shape: [2]), to: dir + "/b.npy")
        }
        try Data([0x93] + Array("NUMPY".utf8) + [1, 0, 200, 0]).write(to: URL(fileURLWithPath: dir + "/t.npy"))
        expectError("t.npy", "header length 200 exceeds") { _ = try Npy.read(path: dir + "/t.npy") }
        expectError("missing") { _ = try Npy.read(path: Fixture.path("values.json")) }
    }
}
