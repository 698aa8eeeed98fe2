import Foundation
@testable import HelpdeskServer
import Testing

/// Request ids: new ones are lowercase version-4 UUIDs, and what a caller sends is kept only when it
/// cannot inject into a log line.
@Suite struct RequestIDTests {
    @Test func newIDsAreDistinctLowercaseVersion4UUIDs() {
        var seen: Set<String> = []
        for _ in 0..<2000 {
            let id = RequestIDMiddleware.newID()
            #expect(id.utf8.count == 36)
            #expect(id == id.lowercased())
            let parsed = try? #require(UUID(uuidString: id))
            #expect(parsed?.uuidString.lowercased() == id, "round-trips through Foundation's parser")
            let characters = Array(id)
            #expect(characters[14] == "4", "version 4")
            #expect("89ab".contains(characters[19]), "RFC 4122 variant")
            seen.insert(id)
        }
        #expect(seen.count == 2000)
    }

    @Test func callerIDsAreKeptOnlyWhenTheyAreSafeInALog() {
        #expect(RequestIDMiddleware.acceptable("4bf92f35-77b3-4da6-a3ce-929d0e0e4736") != nil)
        #expect(RequestIDMiddleware.acceptable("trace_01.abc") != nil)
        #expect(RequestIDMiddleware.acceptable("") == nil)
        #expect(RequestIDMiddleware.acceptable("a\nb") == nil)
        #expect(RequestIDMiddleware.acceptable("id with spaces") == nil)
        #expect(RequestIDMiddleware.acceptable(String(repeating: "a", count: 129)) == nil)
    }
}
