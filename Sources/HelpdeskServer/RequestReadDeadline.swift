import NIOCore
import NIOHTTPTypes

/// A total deadline for reading one request, head and body together, whatever its progress.
///
/// An idle timeout restarts on every byte, so a client sending one byte a second would hold a
/// connection for ever. This handler sits first in the pipeline (before TLS and HTTP decoding).
/// The clock runs from the moment the connection opens (a silent connection is not free) and
/// from the first byte of each later request; ``RequestEndWatcher`` (after decoding) stops it
/// when the request's end is decoded. While a request is being answered the server reads no
/// further, so bytes of a pipelined next request start its clock only once the answer is sent.
/// A request still unread at the deadline closes the connection.
final class RequestReadDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let deadline: TimeAmount
    private let onTimeout: @Sendable () -> Void
    private var timer: Scheduled<Void>?
    private var channel: (any Channel)?
    /// Bytes of a request not yet read whole have arrived.
    private var reading = false
    /// Requests read whole and not yet answered.
    private var answering = 0

    init(deadline: TimeAmount, onTimeout: @escaping @Sendable () -> Void = {}) {
        self.deadline = deadline
        self.onTimeout = onTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        channel = context.channel
        if context.channel.isActive { startReading(context.eventLoop) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if !reading { startReading(context.eventLoop) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !reading { startReading(context.eventLoop) }
        context.fireChannelRead(data)
    }

    private func startReading(_ eventLoop: any EventLoop) {
        reading = true
        if answering == 0 { arm(eventLoop) }
    }

    private func arm(_ eventLoop: any EventLoop) {
        guard timer == nil, let channel else { return }
        let onTimeout = onTimeout
        timer = eventLoop.scheduleTask(in: deadline) {
            onTimeout()
            channel.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }

    /// Called on the channel's event loop when a request has been read whole.
    func requestRead() {
        reading = false
        answering += 1
        disarm()
    }

    /// Called on the channel's event loop when an answer has been sent whole.
    func responseSent(_ eventLoop: any EventLoop) {
        answering = max(0, answering - 1)
        if answering == 0, reading { arm(eventLoop) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }
}

/// Tells the connection's ``RequestReadDeadlineHandler`` when a decoded request has ended and
/// when its answer has gone out.
final class RequestEndWatcher: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var deadline: RequestReadDeadlineHandler?

    func handlerAdded(context: ChannelHandlerContext) {
        deadline = try? context.pipeline.syncOperations.handler(type: RequestReadDeadlineHandler.self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { deadline?.requestRead() }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { deadline?.responseSent(context.eventLoop) }
        context.write(data, promise: promise)
    }
}
