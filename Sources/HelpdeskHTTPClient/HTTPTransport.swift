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

    private let client: HTTPClient
    private let maxResponseBytes: Int

    /// Over the process's shared client (connect timeout 10 s, redirects followed).
    public init() {
        self.init(client: Self.processClient, maxResponseBytes: Self.maxResponseBytes)
    }

    /// AsyncHTTPClient's shared client, less its tracing: its spans record whole URLs, and Slack's
    /// `response_url`s and upload URLs carry credentials. Requests are traced by their callers instead
    /// (the Slack post's span names its method, never its URL). Made once, never shut down.
    static let processClient: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    private init(client: HTTPClient, maxResponseBytes: Int) {
        self.client = client
        self.maxResponseBytes = maxResponseBytes
    }

    /// Runs `body` with a transport over a client of its own, shut down afterwards, for one-shot
    /// callers that carry a credential: connecting gives up after `connectTimeout`, a reply over
    /// `maxResponseBytes` is an error, and redirects are not followed, so a bearer token never
    /// travels to wherever a redirect points.
    public static func withOwnClient<Result>(connectTimeout: Duration, maxResponseBytes: Int,
                                             _ body: (AsyncHTTPTransport) async throws -> Result) async throws -> Result {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .nanoseconds(connectTimeout.nanoseconds)))
        configuration.tracing.tracer = nil
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        let result: Result
        do {
            result = try await body(AsyncHTTPTransport(client: client, maxResponseBytes: maxResponseBytes))
        } catch {
            try? await client.shutdown()
            throw error
        }
        // The answer is in hand; a client that fails to close changes nothing about it.
        try? await client.shutdown()
        return result
    }

    public func post(_ url: URL, contentType: String, headers: [(String, String)], body: Data, timeout: Duration) async throws -> (status: Int, headers: [String: String], body: Data) {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "content-type", value: contentType)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
            let bytes = try await response.body.collect(upTo: maxResponseBytes)
            var fields: [String: String] = [:]
            for header in response.headers { fields[header.name.lowercased()] = header.value }
            return (Int(response.status.code), fields, Data(bytes.readableBytesView))
        } catch is NIOTooManyBytesError {
            throw HTTPTransportError(host: url.host ?? url.absoluteString, reason: "its reply is over \(maxResponseBytes) bytes")
        } catch {
            throw HTTPTransportError(host: url.host ?? url.absoluteString, reason: "\(error)")
        }
    }
}
