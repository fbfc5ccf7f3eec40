import ArgumentParser
import Foundation
import HushCore
import HushServer
import HushStore
import Logging
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP API.")

    @OptionGroup var database: DatabaseOptions

    @Option(help: "The address to listen on. (HUSH_HOST)")
    var host: String = ProcessInfo.processInfo.environment["HUSH_HOST"] ?? "127.0.0.1"

    @Option(help: "The port to listen on. (HUSH_PORT)")
    var port: Int = ProcessInfo.processInfo.environment["HUSH_PORT"].flatMap(Int.init) ?? 8080

    @Option(help: "The public base URL of unsubscribe and confirmation links, e.g. https://hush.example.com. (HUSH_PUBLIC_URL)")
    var publicURL: String? = ProcessInfo.processInfo.environment["HUSH_PUBLIC_URL"]

    @Option(help: "The address List-Unsubscribe's mailto names. (HUSH_UNSUBSCRIBE_MAILTO)")
    var unsubscribeMailto: String? = ProcessInfo.processInfo.environment["HUSH_UNSUBSCRIBE_MAILTO"]

    @Flag(
        name: [.customLong("allow-private-targets"), .customLong("allow-private-webhook-targets")],
        help: "Let webhooks and CRM connectors reach loopback, private and link-local addresses: for development and tests only. --allow-private-webhook-targets is the old name. (HUSH_ALLOW_PRIVATE_TARGETS=1, or HUSH_ALLOW_PRIVATE_WEBHOOK_TARGETS=1)")
    var allowPrivateTargets = false

    @Option(help: "Seconds between webhook attempts, comma-separated. (HUSH_WEBHOOK_RETRY_DELAYS; default 5,300,1800,7200,18000,36000,50400,72000,86400)")
    var webhookRetryDelays: String? = ProcessInfo.processInfo.environment["HUSH_WEBHOOK_RETRY_DELAYS"]

    @Option(help: "Seconds a webhook receiver has to answer. (HUSH_WEBHOOK_TIMEOUT)")
    var webhookTimeout: Double = ProcessInfo.processInfo.environment["HUSH_WEBHOOK_TIMEOUT"].flatMap(Double.init) ?? 15

    @Option(help: "Days finished webhook deliveries are kept for viewing. (HUSH_WEBHOOK_RETENTION_DAYS)")
    var webhookRetentionDays: Int = ProcessInfo.processInfo.environment["HUSH_WEBHOOK_RETENTION_DAYS"].flatMap(Int.init) ?? 30

    @Option(help: "Days sends and their reports are kept. (HUSH_SEND_RETENTION_DAYS)")
    var sendRetentionDays: Int = ProcessInfo.processInfo.environment["HUSH_SEND_RETENTION_DAYS"].flatMap(Int.init) ?? 90

    @Option(help: "Webhook endpoints sent to at once. (HUSH_WEBHOOK_CONCURRENCY)")
    var webhookConcurrency: Int = ProcessInfo.processInfo.environment["HUSH_WEBHOOK_CONCURRENCY"].flatMap(Int.init) ?? 16

    @Option(help: "How long an opt-in confirmation link works, e.g. 7d, 12h, 3600s. (HUSH_CONFIRM_LINK_TTL)")
    var confirmLinkTTL: String = ProcessInfo.processInfo.environment["HUSH_CONFIRM_LINK_TTL"] ?? "7d"

    @Option(help: "Proxies whose X-Forwarded-For / Forwarded client address is believed, as CIDR ranges: 10.0.0.0/8,::1. (HUSH_TRUSTED_PROXIES)")
    var trustedProxies: String = ProcessInfo.processInfo.environment["HUSH_TRUSTED_PROXIES"] ?? ""

    @Option(help: "Require Authorization: Bearer <token> on /metrics. (HUSH_METRICS_TOKEN)")
    var metricsToken: String? = ProcessInfo.processInfo.environment["HUSH_METRICS_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }

    @Flag(help: "Log a line per request: method, route, status, duration, key id. (HUSH_ACCESS_LOG=1)")
    var accessLog = false

    @Option(help: "Seconds a connection may sit without a request. (HUSH_IDLE_TIMEOUT)")
    var idleTimeout: Int = ProcessInfo.processInfo.environment["HUSH_IDLE_TIMEOUT"].flatMap(Int.init) ?? 60

    @Option(help: "Seconds a new connection has to send its first request head. (HUSH_HEADER_TIMEOUT)")
    var headerTimeout: Int = ProcessInfo.processInfo.environment["HUSH_HEADER_TIMEOUT"].flatMap(Int.init) ?? 10

    @Option(help: "Posts per minute one organization's Twilio webhook takes. (HUSH_INBOUND_REQUESTS_PER_MINUTE)")
    var inboundRequestsPerMinute: Int = ProcessInfo.processInfo.environment["HUSH_INBOUND_REQUESTS_PER_MINUTE"].flatMap(Int.init) ?? 600

    @Option(help: "Minutes a console session lasts without use. (HUSH_CONSOLE_IDLE_MINUTES)")
    var consoleIdleMinutes: Int = ProcessInfo.processInfo.environment["HUSH_CONSOLE_IDLE_MINUTES"].flatMap(Int.init) ?? 120

    @Option(help: "bcrypt's cost for new console passwords, 4 to 16; each step doubles the work. (HUSH_PASSWORD_COST)")
    var passwordCost: Int = ProcessInfo.processInfo.environment["HUSH_PASSWORD_COST"].flatMap(Int.init) ?? Int(ServerConfiguration().passwordCost)

    func validate() throws {
        guard (5...10_080).contains(consoleIdleMinutes) else { throw ValidationError("--console-idle-minutes is 5 to 10080") }
        guard (4...16).contains(passwordCost) else { throw ValidationError("--password-cost is 4 to 16") }
        guard webhookTimeout > 0, webhookTimeout <= 300 else { throw ValidationError("--webhook-timeout is 0 to 300 seconds") }
        guard (1...1_000).contains(webhookConcurrency) else { throw ValidationError("--webhook-concurrency is 1 to 1000") }
        guard (1...3_650).contains(webhookRetentionDays) else { throw ValidationError("--webhook-retention-days is 1 to 3650") }
        guard (1...3_650).contains(sendRetentionDays) else { throw ValidationError("--send-retention-days is 1 to 3650") }
        if let webhookRetryDelays {
            do { _ = try WebhookRetryPolicy(parsing: webhookRetryDelays) } catch { throw ValidationError(error.message) }
        }
        guard let ttl = Self.duration(confirmLinkTTL), ttl >= .seconds(60), ttl <= .seconds(90 * 86_400) else {
            throw ValidationError("--confirm-link-ttl is 1m to 90d, such as 7d, 12h or 3600s")
        }
        do { _ = try TrustedProxies(parsing: trustedProxies) } catch { throw ValidationError("--trusted-proxies: \(error.message)") }
        if let metricsToken, metricsToken.count < 16 { throw ValidationError("--metrics-token needs at least 16 characters") }
        guard (1...3_600).contains(idleTimeout) else { throw ValidationError("--idle-timeout is 1 to 3600 seconds") }
        guard (1...300).contains(headerTimeout) else { throw ValidationError("--header-timeout is 1 to 300 seconds") }
        guard (1...1_000_000).contains(inboundRequestsPerMinute) else { throw ValidationError("--inbound-requests-per-minute is 1 to 1000000") }
    }

    /// `7d`, `12h`, `30m`, `3600s` or plain seconds.
    static func duration(_ text: String) -> Duration? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        if let last = text.last, let unit = units[last], let value = Int64(text.dropLast()) { return .seconds(value * unit) }
        return Int64(text).map { .seconds($0) }
    }

    func run() async throws {
        let logger = Logger(label: "hush")
        // Large sends hand their memory back to the system (see MemoryTrim).
        MemoryTrim.enable()
        var webhooks = WebhookSettings(
            timeout: .milliseconds(Int64(webhookTimeout * 1000)), concurrency: webhookConcurrency,
            allowPrivateTargets: allowPrivateTargets || ProcessInfo.processInfo.environment["HUSH_ALLOW_PRIVATE_TARGETS"] == "1"
                || ProcessInfo.processInfo.environment["HUSH_ALLOW_PRIVATE_WEBHOOK_TARGETS"] == "1",
            retention: .seconds(webhookRetentionDays * 86_400))
        if let webhookRetryDelays { webhooks.retryPolicy = try WebhookRetryPolicy(parsing: webhookRetryDelays) }
        // The configuration is read before the database is opened: a bad flag opens nothing.
        var configuration = ServerConfiguration(
            host: host, port: port, publicURL: publicURL, unsubscribeMailto: unsubscribeMailto,
            inboundRequestsPerMinute: inboundRequestsPerMinute, webhooks: webhooks,
            sendRetention: .seconds(sendRetentionDays * 86_400), confirmLinkLifetime: Self.duration(confirmLinkTTL) ?? .seconds(7 * 86_400))
        configuration.trustedProxies = try TrustedProxies(parsing: trustedProxies)
        configuration.metricsToken = metricsToken
        configuration.accessLog = accessLog || ProcessInfo.processInfo.environment["HUSH_ACCESS_LOG"] == "1"
        configuration.idleTimeout = .seconds(idleTimeout)
        configuration.headerTimeout = .seconds(headerTimeout)
        configuration.consoleIdleTimeout = .seconds(consoleIdleMinutes * 60)
        configuration.passwordCost = UInt8(passwordCost)
        // A node keeps its name across restarts (host and port), so on PostgreSQL it takes back
        // at once the webhook deliveries it held when it stopped.
        let store = try await database.open(logger: logger, node: "\(ProcessInfo.processInfo.hostName):\(port)")
        do {
            try await createDefaultOrganization(in: store)
            // The application runs the store's own service (following other processes' writes)
            // beside the HTTP server and the webhook sender; the store closes after all stop,
            // on failure too.
            let application = HushServer.application(store: store, configuration: configuration, logger: logger)
            try await ServiceGroup(configuration: .init(
                services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    /// On an empty database: organization `default` and its first admin key, printed once.
    private func createDefaultOrganization(in store: any Store) async throws {
        guard try await store.organization(named: "default") == nil else { return }
        do {
            let organization = try await store.createOrganization(named: "default")
            let (key, _) = try await store.createKey(in: organization.id, role: .admin)
            print("Created organization \"default\" and its first admin key (shown once):\n\(key.secret)")
            print("""
                The console is at /console. Create its first user (a password is generated and printed once):
                  hush users create --org default --email you@example.com --role admin
                """)
            fflush(nil)
        } catch let error as HushError where error.code == .conflict {
            // Another server starting on the same new database created it (and printed its key).
        }
    }
}


