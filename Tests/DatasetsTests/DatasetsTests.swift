import Testing
@testable import Datasets
@Test func datasetsLink() { #expect(Bool(true)) }
