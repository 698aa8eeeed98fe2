import Foundation
import HelpdeskCore
import Hummingbird
import Logging
import HTTPTypes

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-Id")!
}

/// Gives every request an id — the caller's `X-Request-Id` when it is sane, else a new one — puts it
/// on the request's logger and echoes it in the response.
struct RequestIDMiddleware: RouterMiddleware {
    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        var context = context
        let id = request.headers[.requestID].flatMap(Self.acceptable) ?? Self.newID()
        context.requestID = id
        context.logger[metadataKey: "request_id"] = "\(id)"
        // Work this request queues (jobs, messages) carries the id on (``WorkOrigin``).
        var response = try await WorkOrigin.$currentRequestID.withValue(id) { try await next(request, context) }
        response.headers[.requestID] = id
        return response
    }

    /// Accepts ids a proxy or peer may send (UUIDs, hex, trace ids); anything else could inject into logs.
    static func acceptable(_ value: String) -> String? {
        guard (1...128).contains(value.utf8.count),
              value.utf8.allSatisfy({ $0 < 128 && (isalnum(Int32($0)) != 0 || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")) })
        else { return nil }
        return value
    }

    /// A random (version 4) UUID in lowercase. Foundation's `UUID()` opened and read /dev/urandom and
    /// formatted with sprintf on every call: 3 % of a request to the bare route, in syscalls alone.
    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = (raw[6] & 0x0F) | 0x40  // version 4
            raw[8] = (raw[8] & 0x3F) | 0x80  // RFC 4122 variant
            return String(unsafeUninitializedCapacity: 36) { text in
                var index = 0
                for (position, byte) in raw.enumerated() {
                    if position == 4 || position == 6 || position == 8 || position == 10 {
                        text[index] = UInt8(ascii: "-")
                        index += 1
                    }
                    text[index] = hexDigits[Int(byte >> 4)]
                    text[index + 1] = hexDigits[Int(byte & 0x0F)]
                    index += 2
                }
                return index
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
