import Testing
import Torch
@Test func smoke() { #expect(hello() == 0) }
