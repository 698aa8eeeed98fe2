import ArgumentParser
import Crypto
import Foundation
import HelpdeskCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `helpdesk hash-key`: what to store instead of an API key or a web password — an Argon2id PHC string
/// for a users file's `api_key_hash`, `api.tokens.NAME.token_argon2id` or a person's `password_argon2id`
/// (one scheme for both), or a hex SHA-256 for `token_sha256`.
struct HashKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-key",
        abstract: "Hash an API key (api_key_hash, token_argon2id, token_sha256) or a web sign-in password (password_argon2id).",
        discussion: """
            Reads the key from standard input (without echo at a terminal; a trailing newline is dropped, \
            as no Authorization header carries one) and prints its Argon2id hash with aiHelpDesk's hashapikey \
            parameters (m=65536, t=3, p=4). The key is never an argument, so it stays out of shell history \
            and the process list. A person's web sign-in password is hashed the same way, for password_argon2id \
            under users: or in a users file (type it at the prompt).
              echo -n "$KEY" | helpdesk hash-key
              helpdesk hash-key --generate           # a new key on the first line (shown once), its hash on the second
              helpdesk hash-key --generate --sha256  # the same with the hex SHA-256, for token_sha256
            Use --sha256 for generated keys only: an unsalted hash of a short or guessable key is cracked offline \
            (a key read from standard input with --sha256 gets a warning). A key with whitespace at its ends is \
            refused, as the server trims it from the Authorization header.
            """)

    @Flag(help: "Generate a random key (240 bits) and print it, once, on the line before its hash.")
    var generate = false

    @Flag(name: .customLong("sha256"), help: "Print the key's SHA-256 in hex (for api.tokens' token_sha256) instead of an Argon2id hash.")
    var sha256 = false

    /// Longer keys are refused: nothing a header carries needs more, and it bounds what is read.
    static let maximumKeyLength = 4096

    func run() throws {
        let key: [UInt8]
        if generate {
            key = Array(randomToken(length: 48).utf8)
            print(String(decoding: key, as: UTF8.self))
        } else {
            key = try Self.readKey()
        }
        if sha256 {
            if !generate {
                printError("warning: a SHA-256 of a key someone chose is found offline when the key is short or guessable; "
                           + "for token_sha256 prefer --generate")
            }
            print(SHA256.hash(data: key).map { String(format: "%02x", $0) }.joined())
        } else {
            print(Argon2idHash.make(secret: key))
        }
    }

    /// The key from standard input: typed without echo at a terminal, else everything piped in.
    private static func readKey() throws -> [UInt8] {
        var key: [UInt8]
        if isatty(STDIN_FILENO) == 1 {
            FileHandle.standardError.write(Data("API key or password: ".utf8))
            key = withoutEcho { readLine(strippingNewline: true) }.map { Array($0.utf8) } ?? []
            FileHandle.standardError.write(Data("\n".utf8))
        } else {
            // At most the longest key, its line end (CR LF) and one byte more to tell a longer input: a stream
            // that never ends (/dev/zero) is not read to its end.
            key = readStandardInput(limit: maximumKeyLength + 3)
            if key.last == UInt8(ascii: "\n") { key.removeLast() }
            if key.last == UInt8(ascii: "\r") { key.removeLast() }
        }
        guard !key.isEmpty else {
            printError("no key on standard input: pipe one in (echo -n \"$KEY\" | helpdesk hash-key), or use --generate")
            throw ExitCode(1)
        }
        guard key.count <= maximumKeyLength else {
            printError("the key is longer than \(maximumKeyLength) bytes")
            throw ExitCode(1)
        }
        // A bearer key is one header token: control characters cannot be sent, and the server trims
        // whitespace at its ends (BearerKeyText), so a key with any there would never match its hash.
        guard key.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
            printError("the key holds a control character: no Authorization header could present it")
            throw ExitCode(1)
        }
        guard let text = String(bytes: key, encoding: .utf8) else {
            printError("the key is not UTF-8 text: no Authorization header could present it as it is")
            throw ExitCode(1)
        }
        guard BearerKeyText.trimmed(text) == text else {
            printError("the key starts or ends with whitespace, which the server trims from the Authorization header: "
                       + "its hash would never match; remove it")
            throw ExitCode(1)
        }
        if key.count < 16 {
            printError("warning: a key of \(key.count) characters can be guessed; prefer --generate")
        }
        return key
    }

    /// Standard input up to `limit` bytes; what follows is never read.
    private static func readStandardInput(limit: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while bytes.count < limit {
            let wanted = min(buffer.count, limit - bytes.count)
            let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, wanted) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer.prefix(count)
        }
        return bytes
    }

    /// Runs `body` with the terminal's echo off, restoring it afterwards.
    private static func withoutEcho<Value>(_ body: () -> Value) -> Value {
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else { return body() }
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer { _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &original) }
        return body()
    }
}
