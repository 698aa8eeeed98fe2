import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL

/// HTTP/1 with the connection guards every listener gets: the request-read deadline in front of
/// everything (TLS handshakes included), Hummingbird's idle timeout, and TLS from a context that
/// ``TLSCertificateReloader`` can swap while the server runs (new connections get the new one).
struct GuardedHTTPChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let readDeadline: TimeAmount
    let tls: TLSContextBox?
    let onReadTimeout: @Sendable () -> Void

    var responder: HTTPChannelHandler.Responder { base.responder }

    init(responder: @escaping HTTPChannelHandler.Responder, readDeadline: TimeAmount, idleTimeout: TimeAmount,
         tls: TLSContextBox?, onReadTimeout: @escaping @Sendable () -> Void) {
        self.base = HTTP1Channel(responder: responder, configuration: .init(
            additionalChannelHandlers: [RequestEndWatcher()], idleTimeout: idleTimeout))
        self.readDeadline = readDeadline
        self.tls = tls
        self.onReadTimeout = onReadTimeout
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(RequestReadDeadlineHandler(deadline: readDeadline, onTimeout: onReadTimeout))
            if let tls {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.current))
            }
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// The server builder for ``GuardedHTTPChannel``.
    static func guarded(readDeadline: Duration, idleTimeout: Duration, tls: TLSContextBox?,
                        onReadTimeout: @escaping @Sendable () -> Void) -> HTTPServerBuilder {
        .init { responder in
            GuardedHTTPChannel(responder: responder, readDeadline: .init(readDeadline), idleTimeout: .init(idleTimeout), tls: tls,
                               onReadTimeout: onReadTimeout)
        }
    }
}
