import Testing
@testable import TensorFiles
@Test func filesLink() { #expect(Bool(true)) }
