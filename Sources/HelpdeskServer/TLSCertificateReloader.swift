import Foundation
import HelpdeskCore
import Logging
import NIOConcurrencyHelpers
import NIOSSL
import ServiceLifecycle

/// The TLS context new connections use; swapped whole when the certificate files change.
public final class TLSContextBox: Sendable {
    private let context: NIOLockedValueBox<NIOSSLContext>

    init(_ context: NIOSSLContext) {
        self.context = NIOLockedValueBox(context)
    }

    var current: NIOSSLContext { context.withLockedValue { $0 } }

    func replace(with new: NIOSSLContext) {
        context.withLockedValue { $0 = new }
    }
}

/// Loads `server.tls_cert_file` / `tls_key_file`, and reloads them when either file changes
/// (a renewed certificate from cert-manager or certbot): a pair that does not load keeps the
/// last good one serving and says why in the log.
struct TLSCertificateReloader: Service {
    let certificateFile: String
    let keyFile: String
    let box: TLSContextBox
    let interval: Duration
    let logger: Logger

    /// Reads the pair once, for the server's start: a pair that does not load stops the start.
    static func load(certificateFile: String, keyFile: String) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { NIOSSLCertificateSource.certificate($0) }
        guard !chain.isEmpty else { throw TLSLoadError(message: "\(certificateFile) holds no PEM certificate") }
        let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }

    func run() async throws {
        var seen = stamp()
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            let now = stamp()
            guard now != seen else { continue }
            seen = now
            do {
                box.replace(with: try Self.load(certificateFile: certificateFile, keyFile: keyFile))
                logger.notice("TLS certificate reloaded", metadata: ["cert_file": "\(certificateFile)"])
            } catch {
                logger.error("TLS certificate changed but does not load; the previous one keeps serving",
                             metadata: ["cert_file": "\(certificateFile)", "error": "\(error)"])
            }
        }
    }

    /// Where both files really are, with their modification times and sizes: a change in any
    /// means reload. Resolving links matters: a Kubernetes Secret volume swaps a `..data` link
    /// and leaves the `tls.crt` link itself untouched.
    private func stamp() -> [String] {
        [certificateFile, keyFile].map { file in
            let path = URL(fileURLWithPath: file).resolvingSymlinksInPath().path
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
            return "\(path):\(modified):\(size)"
        }
    }
}

struct TLSLoadError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
