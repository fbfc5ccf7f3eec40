import AsyncHTTPClient
import Foundation
import HushCore
import HushStore
import Logging
import NIOCore
import ServiceLifecycle

/// How webhooks are sent.
public struct WebhookSettings: Sendable {
    public var retryPolicy: WebhookRetryPolicy
    /// How long a receiver has to answer (default 15 s).
    public var timeout: Duration
    /// Endpoints sent to at once; each endpoint gets one request at a time, in ledger order.
    public var concurrency: Int
    /// Deliveries taken for one endpoint at a time.
    public var batch: Int
    /// Whether targets may resolve to loopback and private addresses (development, tests).
    public var allowPrivateTargets: Bool
    /// How often the outbox is looked at for writes made by other processes.
    public var pollInterval: Duration
    /// How long finished deliveries (and the events they carried) are kept for viewing.
    public var retention: Duration
    /// How long a claimed batch is leased to its sender (renewed every third of it while it is
    /// sent): a node that dies holds nothing longer. At least three times `timeout`.
    public var lease: Duration = .seconds(60)

    public init(
        retryPolicy: WebhookRetryPolicy = WebhookRetryPolicy(), timeout: Duration = .seconds(15), concurrency: Int = 16, batch: Int = 100,
        allowPrivateTargets: Bool = false, pollInterval: Duration = .milliseconds(100), retention: Duration = .seconds(30 * 86_400)
    ) {
        self.retryPolicy = retryPolicy
        self.timeout = timeout
        self.concurrency = concurrency
        self.batch = batch
        self.allowPrivateTargets = allowPrivateTargets
        self.pollInterval = pollInterval
        self.retention = retention
    }
}

/// Sends the outbox: a ServiceLifecycle service inside `hush serve`. Per endpoint, deliveries go
/// one at a time in ledger order; a failure holds the endpoint's later deliveries back until it
/// succeeds or dies, so a receiver never sees an opt-in before the opt-out it lifts. At most
/// `concurrency` endpoints are sent to at once, on their own tasks: a slow receiver never slows
/// checks or writes.
public struct WebhookSender: Service {
    /// Deliveries a server stopped in the middle of sending are taken back after this long by
    /// another server (on SQLite the next start of any server, on PostgreSQL the next start of
    /// the same node, takes them back at once). A sender renews the leases of the batch it is
    /// working through every third of it, so a slow receiver never outlives its lease.
    var lease: Duration { max(settings.lease, settings.timeout * 3) }

    let store: any WebhookQueue
    let settings: WebhookSettings
    let logger: Logger
    let metrics: ServerMetrics
    /// The clock deliveries fall due, are leased, stamped and retried by. New work is looked for
    /// every `pollInterval` of real time; what is due is decided by this clock.
    let now: @Sendable () -> Date

    init(store: any WebhookQueue, settings: WebhookSettings, logger: Logger, metrics: ServerMetrics, now: @escaping @Sendable () -> Date) {
        self.store = store
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        self.now = now
    }

    public func run() async throws {
        // Redirects stay off: following one would reach a host nobody checked.
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(min(5, settings.timeout.components.seconds + 1)))
        configuration.httpVersion = .http1Only
        let clients = WebhookHTTPClients(configuration: configuration, capacity: max(64, 2 * settings.concurrency))
        do {
            try await store.releaseDeliveryLeases()
            try await cancelWhenGracefulShutdown {
                try await self.loop(clients)
            }
        } catch is CancellationError {
        } catch {
            try? await clients.shutdown()
            throw error
        }
        try await clients.shutdown()
    }

    private enum Finished: Sendable {
        case endpoint(WebhookID)
        case tick
    }

    private func loop(_ clients: WebhookHTTPClients) async throws {
        try await withThrowingTaskGroup(of: Finished.self) { group in
            var busy: Set<WebhookID> = []
            var ticking = false
            while !Task.isCancelled {
                let free = settings.concurrency - busy.count
                if free > 0, let due = try? await store.nextDeliveryDue(excluding: busy), due <= now() {
                    let batches: [[ClaimedDelivery]]
                    do {
                        batches = try await store.claimDeliveries(
                            endpoints: free, perEndpoint: settings.batch, excluding: busy,
                            leaseUntil: now().addingTimeInterval(lease.seconds))
                    } catch {
                        logger.warning("could not take webhook deliveries from the outbox", metadata: ["error": "\(error)"])
                        batches = []
                    }
                    for batch in batches {
                        let endpoint = batch[0].endpoint.id
                        busy.insert(endpoint)
                        group.addTask {
                            await self.send(batch, clients: clients)
                            return .endpoint(endpoint)
                        }
                    }
                }
                if !ticking {
                    ticking = true
                    let interval = settings.pollInterval
                    group.addTask {
                        try await Task.sleep(for: interval)
                        return .tick
                    }
                }
                switch try await group.next() {
                case .endpoint(let endpoint): busy.remove(endpoint)
                case .tick: ticking = false
                case nil: return
                }
            }
        }
    }

    /// Sends one endpoint's deliveries. The target is resolved and checked again, as it may
    /// resolve elsewhere than when it was saved, and the whole batch connects to the address
    /// checked here, never to a later answer for the name.
    func send(_ batch: [ClaimedDelivery], clients: WebhookHTTPClients) async {
        let destination: WebhookDestination
        do {
            destination = try await WebhookTarget.destination(for: batch[0].endpoint.url, allowPrivate: settings.allowPrivateTargets)
        } catch {
            let refused = "refused: \(error.message)"
            await send(batch) { failure($0, status: nil, body: nil, error: refused, retryAfter: nil) }
            return
        }
        await clients.withClient(host: destination.host, pinnedTo: destination.pinnedAddress) { client in
            await send(batch) { await self.attempt($0, client: client) }
        }
    }

    /// Makes the attempts in order, stopping at the first failure; what follows it keeps its
    /// place. Results are written together, at most every 100 ms.
    private func send(_ batch: [ClaimedDelivery], by attempting: (ClaimedDelivery) async -> DeliveryAttempt) async {
        var results: [DeliveryAttempt] = []
        var lastWrite = ContinuousClock.now
        var renewed = ContinuousClock.now
        for (offset, delivery) in batch.enumerated() {
            if ContinuousClock.now - renewed > lease / 3 {
                await renew(batch[offset...].map(\.id))
                renewed = .now
            }
            let attempt = await attempting(delivery)
            results.append(attempt)
            metrics.record(attempt.outcome)
            guard case .succeeded = attempt.outcome else {
                results += batch[(offset + 1)...].map {
                    DeliveryAttempt(delivery: $0.id, endpoint: $0.endpoint.id, outcome: .released, at: attempt.at)
                }
                break
            }
            if ContinuousClock.now - lastWrite > .milliseconds(100) {
                await write(results)
                results = []
                lastWrite = .now
            }
        }
        await write(results)
    }

    private func renew(_ deliveries: [DeliveryID]) async {
        do {
            try await store.renewDeliveryLeases(deliveries, until: now().addingTimeInterval(lease.seconds))
        } catch {
            // Not renewed, the leases run out and another sender may take the rest: at least once.
            logger.warning("could not renew webhook delivery leases", metadata: ["error": "\(error)", "count": "\(deliveries.count)"])
        }
    }

    private func write(_ results: [DeliveryAttempt]) async {
        // Recorded even while the server stops: an attempt made is not forgotten.
        let store = self.store
        let written = await Task { try await store.recordAttempts(results) }.result
        if case .failure(let error) = written {
            // The leases run out and the deliveries are sent again: at least once, never lost.
            logger.error("could not record webhook attempts", metadata: ["error": "\(error)", "count": "\(results.count)"])
        }
    }

    /// One POST, signed with every secret in force.
    func attempt(_ delivery: ClaimedDelivery, client: HTTPClient) async -> DeliveryAttempt {
        let id = delivery.event.webhookID(endpoint: delivery.endpoint.id)
        let timestamp = Int64(now().timeIntervalSince1970)
        let body = delivery.endpoint.body(for: delivery.event)
        var request = HTTPClientRequest(url: delivery.endpoint.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "Hush-Webhooks/1")
        request.headers.add(name: "webhook-id", value: id)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(name: "webhook-signature", value: WebhookSignature.header(
            id: id, timestamp: timestamp, body: body, secrets: delivery.endpoint.secrets))
        request.body = .bytes(ByteBuffer(bytes: body))
        let prepared = request
        let timeout = settings.timeout
        let noAnswer = { self.failure(delivery, status: nil, body: nil, error: "no answer within \(timeout)", retryAfter: nil) }
        do {
            // One deadline for the whole exchange, the answer's body included: the client's own
            // ends with the answer's head, and a receiver that then stalls would hold the
            // endpoint's slot for ever.
            return try await withThrowingTaskGroup(of: DeliveryAttempt?.self) { group in
                group.addTask { try await self.exchange(prepared, delivery, client: client) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                return try await group.next().flatMap { $0 } ?? noAnswer()
            }
        } catch where Task.isCancelled {
            // The server is stopping: not an attempt that failed. The delivery keeps its place
            // and its count, and goes out again after the restart.
            return DeliveryAttempt(delivery: delivery.id, endpoint: delivery.endpoint.id, outcome: .released, at: now())
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return noAnswer()
        } catch {
            return failure(delivery, status: nil, body: nil, error: "\(error)", retryAfter: nil)
        }
    }

    /// The POST and its answer.
    private func exchange(_ request: HTTPClientRequest, _ delivery: ClaimedDelivery, client: HTTPClient) async throws -> DeliveryAttempt {
        let response = try await client.execute(request, timeout: .nanoseconds(Int64(settings.timeout.seconds * 1e9)))
        let status = Int(response.status.code)
        let kept = await Self.firstBytes(of: response.body)
        try Task.checkCancellation()
        switch status {
        case 200...299:
            return DeliveryAttempt(delivery: delivery.id, endpoint: delivery.endpoint.id, outcome: .succeeded, at: now(),
                                   responseStatus: status, responseBody: kept)
        case 410:
            logger.notice("webhook endpoint answered 410 Gone and is disabled", metadata: ["endpoint": "\(delivery.endpoint.id)"])
            return DeliveryAttempt(delivery: delivery.id, endpoint: delivery.endpoint.id, outcome: .gone, at: now(),
                                   responseStatus: status, responseBody: kept)
        default:
            let retryAfter = response.headers.first(name: "retry-after").flatMap { WebhookRetryPolicy.retryAfter($0, now: now()) }
            return failure(delivery, status: status, body: kept, error: nil, retryAfter: retryAfter)
        }
    }

    private func failure(_ delivery: ClaimedDelivery, status: Int?, body: String?, error: String?, retryAfter: Double?) -> DeliveryAttempt {
        let now = self.now()
        let delay = settings.retryPolicy.delay(afterAttempt: delivery.attempts + 1, retryAfter: retryAfter)
        logger.info("webhook delivery failed", metadata: [
            "delivery": "\(delivery.id)", "endpoint": "\(delivery.endpoint.id)", "status": "\(status.map(String.init) ?? "-")",
            "error": "\(error ?? "-")",
            "next": "\(delay.map { "in \(Int($0)) s" } ?? "none, dead")",
        ])
        return DeliveryAttempt(
            delivery: delivery.id, endpoint: delivery.endpoint.id, outcome: .retry(at: delay.map { now.addingTimeInterval($0) }), at: now,
            responseStatus: status, responseBody: body, error: error)
    }

    /// The first bytes of a body as text; the rest is not read.
    static func firstBytes(of body: HTTPClientResponse.Body) async -> String? {
        var kept: [UInt8] = []
        do {
            for try await buffer in body {
                kept += buffer.readableBytesView.prefix(WebhookDelivery.maximumKeptBody - kept.count)
                if kept.count >= WebhookDelivery.maximumKeptBody { break }
            }
        } catch {}
        guard !kept.isEmpty else { return nil }
        return String(decoding: kept, as: UTF8.self)
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
