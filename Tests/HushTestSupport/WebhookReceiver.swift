import CRMEmulators
import Foundation
import Hummingbird
import HTTPTypes
import NIOCore

/// A webhook receiver on loopback for tests: a real HTTP server on a free port that records
/// every request and answers as the test scripts it.
public actor WebhookReceiver {
    public struct Received: Sendable {
        public let path: String
        public let headers: [String: String]
        public let body: [UInt8]
        public let at: ContinuousClock.Instant

        public var text: String { String(decoding: body, as: UTF8.self) }
        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
        public var webhookID: String { headers["webhook-id"] ?? "" }
    }

    public struct Reply: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var delay: Duration
        public var body: String
        /// Sends the head, then the body a byte every 200 ms for ten minutes: a receiver that
        /// answers and never finishes. It stops when the sender hangs up.
        public var drips: Bool

        public init(status: Int = 200, headers: [String: String] = [:], delay: Duration = .zero, body: String = "ok", drips: Bool = false) {
            self.status = status
            self.headers = headers
            self.delay = delay
            self.body = body
            self.drips = drips
        }
    }

    /// Answers request `index` (0 for the first).
    public typealias Responder = @Sendable (_ index: Int, _ request: Received) -> Reply

    public private(set) var received: [Received] = []
    private var responder: Responder
    private var running: Task<Void, any Error>?
    public private(set) var port = 0

    private init(responder: @escaping Responder) {
        self.responder = responder
    }

    /// Starts a receiver answering with `responder` (200 "ok" by default).
    public static func start(_ responder: @escaping Responder = { _, _ in Reply() }) async throws -> WebhookReceiver {
        let receiver = WebhookReceiver(responder: responder)
        try await receiver.listen()
        return receiver
    }

    public var url: String { "http://127.0.0.1:\(port)/hook" }

    public func respond(with responder: @escaping Responder) {
        self.responder = responder
    }

    private func listen() async throws {
        let router = Router()
        router.post("**") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let received = Received(path: request.uri.path, headers: headers, body: Array(buffer: body), at: .now)
            let reply = await self.record(received)
            if reply.delay > .zero { try await Task.sleep(for: reply.delay) }
            var fields = HTTPFields()
            for (name, value) in reply.headers { fields[HTTPField.Name(name)!] = value }
            if reply.drips {
                return Response(status: .init(code: reply.status), headers: fields, body: ResponseBody { writer in
                    for _ in 0..<3_000 {
                        try await writer.write(ByteBuffer(string: "."))
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    try await writer.finish(nil)
                })
            }
            return Response(status: .init(code: reply.status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: reply.body)))
        }
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) })
        // A server that stops (or fails to bind) ends the stream: the receiver's caller fails
        // instead of waiting for a port forever, as the test servers' callers do.
        running = Task {
            defer { continuation.finish() }
            try await application.run()
        }
        guard let bound = await announcedPort(stream, continuation, within: .seconds(120)) else {
            throw ReceiverNotStarted()
        }
        port = bound
    }

    struct ReceiverNotStarted: Error, CustomStringConvertible {
        var description: String { "the webhook receiver did not start listening" }
    }

    private func record(_ request: Received) -> Reply {
        let index = received.count
        received.append(request)
        for waiter in waiters.values { waiter.resume() }
        waiters = [:]
        return responder(index, request)
    }

    /// The requests that arrived, each delivery once: webhooks are sent at least once, so a
    /// delivery whose answer was lost may come again under its `webhook-id`.
    public var distinct: [Received] {
        var seen = Set<String>()
        return received.filter { seen.insert($0.webhookID).inserted }
    }

    /// Waits until `count` requests arrived; returns what arrived. `timeout` only stops a test
    /// that would never pass: arrivals are signalled, not polled.
    @discardableResult
    public func waitFor(_ count: Int, timeout: Duration = .seconds(60)) async -> [Received] {
        await waitUntil(timeout: timeout) { $0.count >= count }
    }

    /// Waits until what arrived satisfies `done`, woken by each arrival; returns what arrived.
    /// `timeout` is how long it waits with nothing arriving: on a busy machine deliveries come
    /// slowly but keep coming, and only silence means they stopped. It gives up after ten times
    /// `timeout` in all.
    @discardableResult
    public func waitUntil(timeout: Duration = .seconds(60), _ done: ([Received]) -> Bool) async -> [Received] {
        let cap = ContinuousClock.now + timeout * 10
        var deadline = ContinuousClock.now + timeout
        var lastCount = received.count
        while !done(received), ContinuousClock.now < deadline {
            if received.count != lastCount {
                lastCount = received.count
                deadline = min(cap, ContinuousClock.now + timeout)
            }
            let seen = received.count
            let id = UUID()
            let wakeAt = deadline
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.arrival(after: seen, id: id) }
                group.addTask {
                    try? await Task.sleep(until: wakeAt)
                    await self.wake(id)
                }
                await group.next()
                group.cancelAll()
            }
        }
        return received
    }

    private var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]

    /// Returns at the next arrival after `seen`, at once if one came already, or when cancelled.
    private func arrival(after seen: Int, id: UUID) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if received.count != seen || Task.isCancelled { continuation.resume() } else { waiters[id] = continuation }
            }
        } onCancel: {
            Task { await self.wake(id) }
        }
    }

    private func wake(_ id: UUID) {
        waiters.removeValue(forKey: id)?.resume()
    }

    public func stop() async {
        running?.cancel()
        _ = await running?.result
    }
}
