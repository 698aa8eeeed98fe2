import AsyncHTTPClient
import Foundation
import HelpdeskCore
import NIOCore
import NIOHTTP1

/// POSTs a body and returns the reply; the seam tests replace (or point at a loopback fake).
public protocol HTTPTransport: Sendable {
    func post(_ url: URL, contentType: String, headers: [(String, String)], body: Data, timeout: Duration) async throws -> (status: Int, headers: [String: String], body: Data)
}

extension HTTPTransport {
    public func postJSON(_ url: URL, headers: [(String, String)], body: Data, timeout: Duration) async throws -> (status: Int, headers: [String: String], body: Data) {
        try await post(url, contentType: "application/json; charset=utf-8", headers: headers, body: body, timeout: timeout)
    }
}

/// The peer could not be reached at all (refused, reset, timed out): worth trying again.
public struct HTTPTransportError: Error, Sendable, CustomStringConvertible {
    public var host: String
    public var reason: String
    public var description: String { "cannot reach \(host): \(reason)" }
}

/// AsyncHTTPClient: no FoundationNetworking, so the binary can link statically.
public struct AsyncHTTPTransport: HTTPTransport {
    static let maxResponseBytes = 8 * 1024 * 1024

    public init() {}

    public func post(_ url: URL, contentType: String, headers: [(String, String)], body: Data, timeout: Duration) async throws -> (status: Int, headers: [String: String], body: Data) {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "content-type", value: contentType)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
            let bytes = try await response.body.collect(upTo: Self.maxResponseBytes)
            var fields: [String: String] = [:]
            for header in response.headers { fields[header.name.lowercased()] = header.value }
            return (Int(response.status.code), fields, Data(bytes.readableBytesView))
        } catch {
            throw HTTPTransportError(host: url.host ?? url.absoluteString, reason: "\(error)")
        }
    }
}
