import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers `Expect: 100-continue` with `100 Continue` as soon as the request head arrives, so a
/// client uploading a large body (a send of a million recipients) starts at once rather than
/// waiting out its own timeout (a second, for curl). Hummingbird does not do it itself.
///
/// A request pipelined behind others gets its `100 Continue` once the answers before it have
/// ended: sent at once, it would land before them or between the parts of one.
final class ContinueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// For each request read and not answered yet, in order: whether it is still owed a `100 Continue`.
    private var unanswered: [Bool] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            let expects = head.headerFields[.expect]?.lowercased() == "100-continue"
            unanswered.append(expects)
            if unanswered.count == 1 { sendContinueIfOwed(context) }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        if case .end = unwrapOutboundIn(data), !unanswered.isEmpty {
            unanswered.removeFirst()
            sendContinueIfOwed(context)
        }
    }

    private func sendContinueIfOwed(_ context: ChannelHandlerContext) {
        guard unanswered.first == true else { return }
        unanswered[0] = false
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
    }
}
