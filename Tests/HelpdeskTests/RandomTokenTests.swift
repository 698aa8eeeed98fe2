import HelpdeskCore
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
}
