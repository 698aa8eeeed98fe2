@testable import HelpdeskCore
import Testing

@Suite struct Argon2idHashTests {
    /// Made by Debian's argon2 CLI in aiHelpDesk's parameters:
    /// `echo -n ci-runner-test-key-7f3a9c | argon2 Kq7vR2mXw9Lp -id -t 3 -m 16 -p 4 -l 32 -e`
    /// (the fixture Tests/Fixtures/aihelpdesk/users.yaml holds the same hash for ci-runner).
    static let cliHash = "$argon2id$v=19$m=65536,t=3,p=4$S3E3dlIybVh3OUxw$7P12pVV/7j+v4HAGXOI/U2QMHn4kEJL31mF/SYSnPTk"
    static let cliKey = "ci-runner-test-key-7f3a9c"

    @Test func verifiesAHashTheArgon2CommandLineToolMade() throws {
        let hash = try Argon2idHash(encoded: Self.cliHash)
        #expect(hash.memoryKiB == 65_536 && hash.iterations == 3 && hash.parallelism == 4)
        #expect(hash.verify(Array(Self.cliKey.utf8)))
        #expect(!hash.verify(Array("ci-runner-test-key-7f3a9d".utf8)))
        #expect(!hash.verify(Array("".utf8)))
    }

    @Test func readsBackTheStringItWasGiven() throws {
        #expect(try Argon2idHash(encoded: Self.cliHash).encoded == Self.cliHash)
        #expect("\(try Argon2idHash(encoded: Self.cliHash))" == "argon2id(m=65536,t=3,p=4)", "logs never see salt or hash")
    }

    @Test func makeWritesAiHelpDesksParametersWithARandomSaltAndVerifies() throws {
        let key = Array("a freshly generated key".utf8)
        let first = Argon2idHash.make(secret: key)
        #expect(first.hasPrefix("$argon2id$v=19$m=65536,t=3,p=4$"))
        let hash = try Argon2idHash(encoded: first)
        #expect(hash.salt.count == 16 && hash.hash.count == 32)
        #expect(hash.verify(key))
        #expect(!hash.verify(Array("another key".utf8)))
        #expect(try Argon2idHash(encoded: Argon2idHash.make(secret: key)).salt != hash.salt, "a new salt every time")
    }

    @Test(arguments: [
        ("", "does not start with $argon2id$"),
        ("argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "does not start with $argon2id$"),
        ("$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2i$ is not Argon2id"),
        ("$bcrypt$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "does not start with $argon2id$"),
        ("$argon2id$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "no version field"),
        ("$argon2id$v=16$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "version v=16 is not accepted"),
        ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ", "found 4 fields"),
        ("$argon2id$v=19$m=65536,t=3$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "the parameters lack p"),
        ("$argon2id$v=19$m=65536,t=3,p=4,keyid=x$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "found \"keyid=x\""),
        ("$argon2id$v=19$m=65536,t=3,t=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "t is given twice"),
        ("$argon2id$v=19$m=64k,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "m=64k is not a whole number"),
        ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdGhlcmU$placeholder-replace-with-real-hash", "the hash is a placeholder"),
        ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", "the salt is 4 bytes; at least 8"),
        ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA", "padding '=' at character 12"),
        ("$argon2id$v=19$m=65536,t=3,p=4$c2Fsd-NhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "the salt is not unpadded base64: '-' at character 6"),
        ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA", "the hash is 4 bytes; expected 16 to 64"),
        ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$", "the hash is empty"),
    ])
    func malformedStringsAreRefusedSayingWhy(encoded: String, reason: String) {
        #expect(throws: Argon2idHash.FormatError.self) { try Argon2idHash(encoded: encoded) }
        do {
            _ = try Argon2idHash(encoded: encoded)
        } catch {
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }

    @Test(arguments: [
        ("m=65536,t=0,p=4", "t=0 is out of bounds: this server verifies t from 1 to 10"),
        ("m=65536,t=11,p=4", "t=11 is out of bounds"),
        ("m=65536,t=3,p=0", "p=0 is out of bounds: this server verifies p from 1 to 16"),
        ("m=65536,t=3,p=17", "p=17 is out of bounds"),
        ("m=31,t=3,p=4", "m=31 is out of bounds: this server verifies m from 32 (8·p) to 262144 KiB"),
        ("m=262145,t=3,p=4", "m=262145 is out of bounds"),
        ("m=4294967295,t=3,p=4", "m=4294967295 is out of bounds"),
        ("m=99999999999,t=3,p=4", "is not a whole number"),
    ])
    func parametersOutOfBoundsAreRefusedSoAVerificationsCostIsCapped(parameters: String, reason: String) {
        do {
            _ = try Argon2idHash(encoded: "$argon2id$v=19$\(parameters)$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
            Issue.record("accepted \(parameters)")
        } catch {
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }

    @Test func parametersAtTheBoundsAreAccepted() throws {
        for parameters in ["m=8,t=1,p=1", "m=262144,t=10,p=16", "p=4,m=65536,t=3"] {
            _ = try Argon2idHash(encoded: "$argon2id$v=19$\(parameters)$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
        }
    }

    @Test func smallParametersRoundTripQuickly() throws {
        let key = Array("k".utf8)
        let encoded = Argon2idHash.make(secret: key, salt: Array("saltsalt".utf8), memoryKiB: 8, iterations: 1, parallelism: 1, length: 16)
        let hash = try Argon2idHash(encoded: encoded)
        #expect(hash.verify(key))
        #expect(!hash.verify(Array("K".utf8)))
    }

    @Test func base64IsUnpaddedStandard() {
        #expect(Argon2idHash.base64([]) == "")
        #expect(Argon2idHash.base64([0xFF]) == "/w")
        #expect(Argon2idHash.base64([0xFF, 0xEE]) == "/+4")
        #expect(Argon2idHash.base64([1, 2, 3]) == "AQID")
    }
}
