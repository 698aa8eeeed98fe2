import Hummingbird
import NIOCore

/// `GET /api/v1/openapi.json`: the REST API's OpenAPI 3.1 document. It is compiled into the binary
/// (`resources: [.embedInCode("openapi.json")]` in Package.swift), so no file beside the binary or
/// in the working directory is needed, and it needs no token: clients read it to learn the API.
struct OpenAPIRoute {
    static let path = "/api/v1/openapi.json"

    /// The document's bytes, as SwiftPM embedded them.
    static var document: [UInt8] { PackageResources.openapi_json }

    func register(on router: Router<AppRequestContext>) {
        // Registered on the router itself, outside the `/api/v1` group and its token middleware.
        router.get(RouterPath(Self.path)) { _, _ in
            let bytes = Self.document
            return Response(status: .ok, headers: [
                .contentType: "application/json",
                .contentLength: String(bytes.count),
                .cacheControl: "no-cache",
            ], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}
