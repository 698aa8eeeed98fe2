@testable import HelpdeskCore
import Testing

@Suite struct RandomTokenTests {
    @Test func tokensHaveTheLengthAskedAndOnlyReadableSymbols() {
        let alphabet = Set("abcdefghijkmnpqrstuvwxyz23456789")
        var seen = Set<Character>()
        for length in [0, 1, 6, 12, 13, 40] {
            let token = randomToken(length: length)
            #expect(token.count == length)
            #expect(token.allSatisfy(alphabet.contains))
            seen.formUnion(token)
        }
        for _ in 0..<200 { seen.formUnion(randomToken(length: 12)) }
        // 2,472 symbols drawn: every one of the 32 shows up unless the bit slicing is broken.
        #expect(seen == alphabet)
        #expect(Set((0..<1000).map { _ in randomToken(length: 6) }).count > 990)
    }

    /// Words come from a pool the system fills 32 at a time: across refills, from many threads at once,
    /// no word is handed out twice (64 random bits: a repeat means the pool did).
    @Test func pooledWordsAreNeverHandedOutTwice() async {
        let words = await withTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var generator = PooledSystemRandom()
                    return (0..<500).map { _ in generator.next() }
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(words.count == 4000)
        #expect(Set(words).count == 4000)
        #expect(!words.contains(0))
    }
}
