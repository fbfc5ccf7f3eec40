import Hummingbird
import HushCore
import HushStore
import Prometheus
import Synchronization

/// The figures `GET /metrics` shows, in Prometheus' text format. Each application has its own
/// registry, so tests and embedded servers do not share counters.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let checks: Counter
    /// Single checks `CheckDoor` answered as they arrived, without the router (counted in `checks` too).
    let doorChecks: Counter
    let optOutsRecorded: Counter
    let indexSize: Gauge
    let webhookSucceeded: Counter
    let webhookFailed: Counter
    let webhookGone: Counter
    private let authFailures: [String: Counter]

    init() {
        checks = registry.makeCounter(descriptor: .init(metricName: "hush_checks", unitName: "total", helpText: "Addresses checked, single and in batches."))
        doorChecks = registry.makeCounter(descriptor: .init(
            metricName: "hush_checks_at_the_door", unitName: "total", helpText: "Single checks answered as they arrived, without the router."))
        optOutsRecorded = registry.makeCounter(descriptor: .init(metricName: "hush_opt_outs_recorded", unitName: "total", helpText: "Opt-out events written."))
        indexSize = registry.makeGauge(descriptor: .init(metricName: "hush_index", unitName: "suppressions", helpText: "Suppressions held in memory."))
        let attempts = MetricNameDescriptor(metricName: "hush_webhook_attempts", unitName: "total", helpText: "Webhook delivery attempts by result.")
        webhookSucceeded = registry.makeCounter(descriptor: attempts, labels: [("result", "succeeded")])
        webhookFailed = registry.makeCounter(descriptor: attempts, labels: [("result", "failed")])
        webhookGone = registry.makeCounter(descriptor: attempts, labels: [("result", "gone")])
        let failures = MetricNameDescriptor(metricName: "hush_auth_failures", unitName: "total", helpText: "Requests refused for their API key, by reason.")
        var counters: [String: Counter] = [:]
        for reason in ["missing", "malformed", "unknown"] {
            counters[reason] = registry.makeCounter(descriptor: failures, labels: [("reason", reason)])
        }
        authFailures = counters
    }

    private struct RouteKey: Hashable {
        let method: String
        let route: String
        let status: Int
    }

    /// The metrics of each route, made once: the registry validates names and labels on every
    /// `make…` call, too slow to do per request.
    private let routes = Mutex<[RouteKey: (requests: Counter, latency: DurationHistogram)]>([:])

    /// Counts a request and records its latency.
    func record(_ method: String, _ route: String, _ status: Int, _ duration: Duration) {
        let key = RouteKey(method: method, route: route, status: status)
        let metrics = routes.withLock { $0[key] } ?? {
            let made = (
                requests: registry.makeCounter(
                    descriptor: .init(metricName: "hush_http_requests", unitName: "total", helpText: "HTTP requests answered."),
                    labels: [("method", method), ("route", route), ("status", String(status))]),
                latency: registry.makeDurationHistogram(
                    descriptor: .init(metricName: "hush_http_request_duration", unitName: "seconds", helpText: "Time to answer HTTP requests."),
                    labels: [("method", method), ("route", route)],
                    buckets: [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(5),
                              .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2)]))
            routes.withLock { $0[key] = made }
            return made
        }()
        metrics.requests.increment()
        metrics.latency.record(duration)
    }

    func authenticationFailed(_ reason: String) {
        authFailures[reason]?.increment()
    }

    func record(_ outcome: DeliveryAttempt.Outcome) {
        switch outcome {
        case .succeeded: webhookSucceeded.increment()
        case .retry: webhookFailed.increment()
        case .gone: webhookGone.increment()
        case .released: break
        }
    }

    /// CRM connector figures, labelled by connector: made on first use, kept in `crm`.
    private let crm = Mutex<[String: Counter]>([:])

    func crmCount(_ name: String, _ help: String, connector: ConnectorID, labels: [(String, String)] = [], by amount: Int = 1) {
        guard amount > 0 else { return }
        let key = ([name, "\(connector)"] + labels.map { "\($0.0)=\($0.1)" }).joined(separator: "|")
        let counter = crm.withLock { $0[key] } ?? {
            let made = registry.makeCounter(
                descriptor: .init(metricName: name, unitName: "total", helpText: help), labels: [("connector", "\(connector)")] + labels)
            crm.withLock { $0[key] = made }
            return made
        }()
        counter.increment(by: Int64(amount))
    }

    private let crmGauges = Mutex<[String: Gauge]>([:])

    func crmGauge(_ name: String, _ help: String, connector: ConnectorID, _ value: Double) {
        let key = "\(name)|\(connector)"
        let gauge = crmGauges.withLock { $0[key] } ?? {
            let made = registry.makeGauge(descriptor: .init(metricName: name, helpText: help), labels: [("connector", "\(connector)")])
            crmGauges.withLock { $0[key] = made }
            return made
        }()
        gauge.set(to: value)
    }

    func crmWrites(_ connector: ConnectorID, _ result: String) {
        crmCount("hush_crm_writes", "CRM records written by result.", connector: connector, labels: [("result", result)])
    }

    func render(store: any SuppressionChecks) -> String {
        indexSize.set(to: Double(store.indexedCount))
        return registry.emitToString()
    }
}

/// Counts every request and its latency by method, route template and status; with an access
/// log (`--access-log`) also logs it, from the same measurement.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = HushRequestContext
    let metrics: ServerMetrics
    /// Set when every request is logged.
    var accessLog: AccessLog?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        let method = request.method.rawValue
        let duration = ContinuousClock.now - start
        metrics.record(method, route, response.status.code, duration)
        accessLog?.log(request, route: route, status: response.status.code, duration: duration, logger: context.logger)
        return response
    }
}
