import Testing
@testable import NN
@Test func nnLinks() { #expect(Bool(true)) }
