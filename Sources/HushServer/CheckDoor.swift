import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HushCore
import HushStore
import Logging
import NIOCore
import NIOHTTPTypes

/// `GET /v1/check` answered on the connection's own thread, as the request arrives. Through the
/// router a request crosses into an async task and back, and that cost three times what the
/// check does (measured with perf: 60 µs of processor time a request, most of it in task
/// switches, status records and generic metadata; the check itself is under 1 µs).
///
/// The door answers only a plain check it can answer exactly as the route would: a key it has
/// already accepted (and no revocations due to be read), an organization read within the
/// second, an address, channel and scope that read cleanly, and no `lists`, `at`,
/// `min_sequence` or `Hush-Min-Sequence`. Anything else, an error included, goes on to the
/// router, which answers it and refreshes what the door reads. Both read the request with
/// `V1Routes.CheckRequest` and write `V1Routes.CheckOutput`, so the answer is the same bytes.
final class CheckDoor: Sendable {
    private let store: any AccessStore & SuppressionChecks
    private let authenticator: KeyAuthenticator
    private let metrics: ServerMetrics
    private let serverName: String?
    static let route = "/v1/check"
    /// The parameters of a plain check; `lists`, `at`, `min_sequence` or any other name sends
    /// the request to the router.
    private static let parameters = ["address", "channel", "scope"]

    init(store: any AccessStore & SuppressionChecks, authenticator: KeyAuthenticator, metrics: ServerMetrics, serverName: String?) {
        self.store = store
        self.authenticator = authenticator
        self.metrics = metrics
        self.serverName = serverName
    }

    /// The answer to `head`, or nil when the router is to answer it.
    func answer(_ head: HTTPRequest, date: String) -> (HTTPResponse, [UInt8])? {
        let start = ContinuousClock.now
        guard head.method == .get, let path = head.path, path.hasPrefix(Self.route + "?"),
              let key = Self.plainRequestKey(head.headerFields),
              let caller = authenticator.principalWithoutRefresh(for: key), V1Group.apiRoles.contains(caller.role),
              let organization = store.cachedOrganization(caller.organization)
        else { return nil }
        let uri = HummingbirdCore.URI(path)
        let query = Query(uri)
        guard uri.path == Self.route, query.namesOnly(Self.parameters), let asked = try? V1Routes.CheckRequest(query, in: organization)
        else { return nil }
        let decision = store.decision(for: asked.address, in: caller.organization, query: asked.query(lists: []))
        var json = JSONWriter(capacity: 256)
        V1Routes.CheckOutput(decision: decision).write(to: &json)
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(json.bytes.count)
        fields[.xContentTypeOptions] = "nosniff"
        fields[.date] = date
        if let serverName { fields[.server] = serverName }
        metrics.checks.increment()
        metrics.doorChecks.increment()
        metrics.record("GET", Self.route, 200, ContinuousClock.now - start)
        return (HTTPResponse(status: .ok, headerFields: fields), json.bytes)
    }

    /// The key of `Authorization: Bearer <key>` (read as `KeyMiddleware` reads it) of a request
    /// with no body, no read-your-writes wait, and a connection kept open as the router keeps it;
    /// nil for any other. One pass over the fields: each lookup by name is a pass of its own.
    private static func plainRequestKey(_ fields: HTTPFields) -> String? {
        var key: String?
        for field in fields {
            switch field.name {
            case .authorization:
                guard key == nil, let bearer = bearerKey(field.value) else { return nil }
                key = bearer
            case .contentLength where field.value != "0", .transferEncoding, ReadYourWrites.minimumHeader:
                return nil
            case .connection where field.value.lowercased() != "keep-alive":
                return nil
            default:
                continue
            }
        }
        return key
    }

    private static func bearerKey(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else { return nil }
        return String(parts[1])
    }
}

/// The connection's end of `CheckDoor`: it sits after Hummingbird's connection state handler
/// (so idle timeouts and graceful shutdown count the requests it answers) and before the
/// router's channel. It answers only while every request it passed on has been answered, so
/// pipelined answers keep their order; its answers are flushed once per read, so a client that
/// pipelines checks gets many answers in one write. While the connection cannot take more
/// output, requests go to the router, whose writer waits and so stops the reading; after a
/// request asking to close the connection, the door answers nothing more.
final class CheckDoorHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let door: CheckDoor
    /// The answer to the request being read, when the door took it.
    private var answer: (HTTPResponse, [UInt8])?
    /// Requests passed on to the router whose answers have not ended yet.
    private var passedOn = 0
    private var unflushed = false
    /// Set once a request passed on said `Connection: close`: nothing after it is answered.
    private var closing = false
    /// Whether the door has answered anything on this connection (see `userInboundEventTriggered`).
    private var answered = false
    private var date = HTTPDate()

    init(door: CheckDoor) {
        self.door = door
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if passedOn == 0, !closing, context.channel.isWritable, let answer = door.answer(head, date: date.now) {
                self.answer = answer
                return
            }
            passedOn += 1
            if head.headerFields[.connection]?.lowercased().contains("close") == true { closing = true }
        case .body:
            // A request the door took has no body (`plainRequestKey`); a stray part is dropped with it.
            if answer != nil { return }
        case .end:
            if let (head, body) = answer {
                answer = nil
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: body))), promise: nil)
                context.write(wrapOutboundOut(.end(nil)), promise: nil)
                unflushed = true
                answered = true
                return
            }
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if unflushed {
            unflushed = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// The end of the client's input, passed on once the door's answers are written: the router,
    /// seeing a connection with nothing left to read, closes it whole, which drops what is not
    /// written yet (a client that pipelines many checks and then shuts its side).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let closed = event as? ChannelEvent, closed == .inputClosed, answered else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        context.flush()
        passOnInputClosedWhenWritten(context)
    }

    /// Looks every 5 ms while answers wait to be written (nothing says when the last is; a write
    /// promise on every answer cost the door 3 % of its checks), and passes on the end of the
    /// input once none waits or the connection is gone. Only a client that shut its side before
    /// reading its answers waits here.
    private func passOnInputClosedWhenWritten(_ context: ChannelHandlerContext) {
        let waiting = (try? context.channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0
        guard waiting > 0, context.channel.isActive else {
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .milliseconds(5)) { bound.value.0.passOnInputClosedWhenWritten(bound.value.1) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), passedOn > 0 { passedOn -= 1 }
        context.write(data, promise: promise)
    }
}

/// Hummingbird's HTTP/1.1 channel with a `CheckDoorHandler` on every connection.
struct CheckDoorHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let channel: HTTP1Channel
    let door: CheckDoor

    func setup(channel: any NIOCore.Channel, logger: Logger) -> EventLoopFuture<Value> {
        self.channel.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            let state = try operations.handler(type: HTTPConnectionStateHandler.self)
            try operations.addHandler(CheckDoorHandler(door: door), position: .after(state))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await channel.handle(value: value, logger: logger)
    }
}

/// The `Date` header's value (RFC 9110's IMF-fixdate), formatted once a second.
struct HTTPDate {
    private var second = -1
    private var text = ""

    var now: String {
        mutating get {
            var clock = time(nil)
            guard Int(clock) != second else { return text }
            second = Int(clock)
            var parts = tm()
            gmtime_r(&clock, &parts)
            var buffer = [CChar](repeating: 0, count: 32)
            let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
            text = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return text
        }
    }
}
