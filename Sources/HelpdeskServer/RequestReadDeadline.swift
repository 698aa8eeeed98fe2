import NIOCore
import NIOHTTPTypes

/// A total deadline for reading one request, head and body together, whatever its progress.
///
/// An idle timeout restarts on every byte, so a client sending one byte a second would hold a
/// connection for ever. This handler sits first in the pipeline (before TLS and HTTP decoding):
/// the first byte of a request arms the deadline, ``RequestEndWatcher`` (after decoding)
/// disarms it when the request's end is decoded, and a request still unread at the deadline
/// closes the connection.
final class RequestReadDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let deadline: TimeAmount
    private let onTimeout: @Sendable () -> Void
    private var timer: Scheduled<Void>?
    /// Between the first byte of a request and its decoded end.
    private var reading = false

    init(deadline: TimeAmount, onTimeout: @escaping @Sendable () -> Void = {}) {
        self.deadline = deadline
        self.onTimeout = onTimeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !reading {
            reading = true
            let channel = context.channel
            let onTimeout = onTimeout
            timer = context.eventLoop.scheduleTask(in: deadline) {
                onTimeout()
                channel.close(promise: nil)
            }
        }
        context.fireChannelRead(data)
    }

    /// Called on the channel's event loop when a request has been read whole.
    func requestRead() {
        reading = false
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }
}

/// Tells the connection's ``RequestReadDeadlineHandler`` when a decoded request has ended.
final class RequestEndWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private var deadline: RequestReadDeadlineHandler?

    func handlerAdded(context: ChannelHandlerContext) {
        deadline = try? context.pipeline.syncOperations.handler(type: RequestReadDeadlineHandler.self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { deadline?.requestRead() }
        context.fireChannelRead(data)
    }
}
