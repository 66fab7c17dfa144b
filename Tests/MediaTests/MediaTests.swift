import Testing
@testable import Media
@Test func mediaLinks() { #expect(Bool(true)) }
