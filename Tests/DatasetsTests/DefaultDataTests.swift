import Foundation
import TestSupport
import Testing
import Datasets

@Suite struct DefaultDataTests {
    @Test func ensureGeneratesOnceAndScansAsClasses() throws {
        let tmp = try TempDir("data")
        let start = Date()
        let (train, val) = try DefaultData.ensure(root: tmp.sub("data"))
        let generated = Date().timeIntervalSince(start)
        let again = Date()
        #expect(try DefaultData.ensure(root: tmp.sub("data")) == (train, val))
        #expect(Date().timeIntervalSince(again) < 1)  // idempotent: nothing regenerated
        print("DefaultData.ensure generated the built-in set in \(String(format: "%.1f", generated)) s")

        let trainSamples = try VideoList.scan(dirs: [train]), valSamples = try VideoList.scan(dirs: [val])
        #expect(trainSamples.count == 8 * DefaultData.trainPerClass && valSamples.count == 8 * DefaultData.valPerClass)
        #expect(try VideoList.classNames(dirs: [train]) == DefaultData.classNames)
        #expect(Set(trainSamples.map(\.label)) == Set(0 ..< 8))
        // Labels agree with the folder names.
        #expect(trainSamples.allSatisfy { $0.path.contains("/\(DefaultData.classNames[$0.label])/") })
        #expect(DefaultData.clipConfig().imgSize == 64 && DefaultData.clipConfig().shortSide == 73)
    }
}
