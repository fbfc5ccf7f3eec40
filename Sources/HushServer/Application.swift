import Foundation
import Hummingbird
import HummingbirdCore
import HushCore
import HushStore
import Logging
import NIOCore
import ServiceLifecycle

/// Where and how `hush serve` listens.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The base of the links put into messages (`https://hush.example.com`); the server's own
    /// address when not set.
    public var publicURL: String?
    /// The address `List-Unsubscribe`'s mailto points at, if the sender's mail system reads one.
    public var unsubscribeMailto: String?
    /// Requests per minute each IP may make to the public pages.
    public var publicRequestsPerMinute: Int
    /// Posts per minute one organization's Twilio webhook takes, from anyone.
    public var inboundRequestsPerMinute: Int
    /// How webhooks are checked and sent.
    public var webhooks: WebhookSettings
    /// Whether the application runs the webhook sender beside the HTTP server.
    public var sendsWebhooks: Bool
    /// Whether the application runs CRM connectors in the background (their poll and pushes).
    public var runsConnectors = true
    /// How often the connector service looks for connectors to run.
    public var connectorTick: Duration = .seconds(1)
    /// How long sends and their reports are kept.
    public var sendRetention: Duration
    /// How long a confirmation link for opting back in works.
    public var confirmLinkLifetime: Duration
    /// How often the key cache reads revocations (a revoked key is refused within this).
    public var keyRefreshInterval: Duration = KeyAuthenticator.defaultRefreshInterval
    /// When set, `/metrics` answers only `Authorization: Bearer <token>`.
    public var metricsToken: String?
    /// Logs a line per request: method, route, status, duration, key id (no address, no query).
    public var accessLog = false
    /// Proxies whose forwarded client address is believed.
    public var trustedProxies = TrustedProxies()
    /// A connection with no request for this long is closed.
    public var idleTimeout: Duration = .seconds(60)
    /// A new connection whose first request head is not complete within this is closed.
    public var headerTimeout: Duration = .seconds(10)
    /// How long a check that asks for a ledger position (`min_sequence`) waits for this node's
    /// index to apply it before answering 503.
    public var minimumSequenceWait: Duration = .seconds(2)
    /// A console session unused for this long ends.
    public var consoleIdleTimeout: Duration = ConsoleAccounts.defaultIdleTimeout
    /// bcrypt's cost for new console passwords (4–31; each step doubles the work).
    public var passwordCost: UInt8 = ConsoleAccounts.defaultPasswordCost
    /// The one clock the server reads: stamps, expiries, webhook retries and leases, retention.
    /// Give the store the same one. Tests move a clock of their own by hand.
    public var now: @Sendable () -> Date = { Date() }

    public init(
        host: String = "127.0.0.1", port: Int = 8080, publicURL: String? = nil, unsubscribeMailto: String? = nil,
        publicRequestsPerMinute: Int = 60, inboundRequestsPerMinute: Int = 600, webhooks: WebhookSettings = WebhookSettings(), sendsWebhooks: Bool = true,
        sendRetention: Duration = .seconds(90 * 86_400), confirmLinkLifetime: Duration = .seconds(7 * 86_400)
    ) {
        self.confirmLinkLifetime = confirmLinkLifetime
        self.host = host
        self.port = port
        self.publicURL = publicURL
        self.unsubscribeMailto = unsubscribeMailto
        self.publicRequestsPerMinute = publicRequestsPerMinute
        self.inboundRequestsPerMinute = inboundRequestsPerMinute
        self.webhooks = webhooks
        self.sendsWebhooks = sendsWebhooks
        self.sendRetention = sendRetention
    }

    /// The public base URL without a trailing slash.
    var baseURL: String {
        var url = publicURL ?? "http://\(host):\(port)"
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}

/// The Hummingbird application: public endpoints, then `/v1` behind API keys, and the webhook
/// sender beside them.
public enum HushServer {
    public static func application(
        store: any Store, configuration: ServerConfiguration = ServerConfiguration(),
        logger: Logger = Logger(label: "hush.server"), onServerRunning: @escaping @Sendable (any NIOCore.Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let metrics = ServerMetrics()
        let runner = connectorRunner(store: store, configuration: configuration, metrics: metrics, logger: logger)
        // The store's own service first: it follows other processes' writes for as long as the
        // application runs, and stops last.
        var services: [any Service] = [store]
        services.append(ConnectorService(runner: runner, tick: configuration.connectorTick, polls: configuration.runsConnectors, logger: logger))
        if configuration.sendsWebhooks {
            services.append(WebhookSender(store: store, settings: configuration.webhooks, logger: logger, metrics: metrics, now: configuration.now))
            services.append(HistoryPruner(
                store: store, webhookRetention: configuration.webhooks.retention, sendRetention: configuration.sendRetention, logger: logger,
                now: configuration.now))
        }
        let built = build(store: store, configuration: configuration, metrics: metrics, connectors: runner)
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [ContinueHandler(), HeaderTimeoutHandler(timeout: .nanoseconds(configuration.headerTimeout.nanoseconds))],
            idleTimeout: .nanoseconds(configuration.idleTimeout.nanoseconds))
        // Every request is logged by the router when the access log is on, so the door stays shut.
        let door = configuration.accessLog ? nil : built.checkDoor
        return Application(
            router: built.router,
            server: HTTPServerBuilder { responder in
                let channel = HTTP1Channel(responder: responder, configuration: http1)
                guard let door else { return channel }
                return CheckDoorHTTP1Channel(channel: channel, door: door)
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: serverName),
            services: services,
            onServerRunning: onServerRunning,
            logger: logger)
    }

    static func router(store: any Store, configuration: ServerConfiguration = ServerConfiguration()) -> Router<HushRequestContext> {
        build(store: store, configuration: configuration).router
    }

    static func connectorRunner(
        store: any Store, configuration: ServerConfiguration, metrics: ServerMetrics, logger: Logger, owner: String? = nil
    ) -> ConnectorRunner {
        ConnectorRunner(
            engine: ConnectorEngine(store: store, now: configuration.now, metrics: metrics, logger: logger),
            http: CRMHTTP(
                clients: LazyHTTPClients(timeout: configuration.webhooks.timeout), allowPrivateTargets: configuration.webhooks.allowPrivateTargets,
                timeout: configuration.webhooks.timeout),
            owner: owner ?? store.connectorLeaseOwner)
    }

    /// The `Server` header's value, from the router and the door alike.
    static let serverName = "hush"

    /// The router, and every `/v1` operation it serves as `METHOD /v1/path/{param}`, and the door
    /// that answers plain checks before it (`CheckDoor`). `connectors` runs CRM connectors; a
    /// router built without one makes its own (whose HTTP clients are made only if a connector is
    /// run, and then must be shut down by the caller).
    static func build(
        store: any Store, configuration: ServerConfiguration = ServerConfiguration(), metrics: ServerMetrics = ServerMetrics(),
        connectors: ConnectorRunner? = nil
    ) -> (router: Router<HushRequestContext>, operations: [String], checkDoor: CheckDoor) {
        let router = Router(context: HushRequestContext.self)
        let authenticator = KeyAuthenticator(store: store, refreshInterval: configuration.keyRefreshInterval, now: configuration.now)
        router.add(middleware: SecurityHeadersMiddleware())
        if !configuration.trustedProxies.ranges.isEmpty { router.add(middleware: ClientAddressMiddleware(proxies: configuration.trustedProxies)) }
        router.add(middleware: MetricsMiddleware(
            metrics: metrics, accessLog: configuration.accessLog ? AccessLog(authenticator: authenticator) : nil))
        router.add(middleware: ProblemMiddleware())

        router.get("health") { _, _ in JSONBody(["status": "ok"]) }
        router.get("metrics") { request, _ in
            if let token = configuration.metricsToken {
                let given = request.headers[.authorization] ?? ""
                guard Array(given.utf8).constantTimeEquals(Array("Bearer \(token)".utf8)) else {
                    throw Problem.unauthorized("/metrics needs Authorization: Bearer <metrics token>")
                }
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.render(store: store))))
        }
        router.get("openapi.yaml") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/yaml"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.text)))
        }

        let links = LinkService(store: store, configuration: configuration)
        let requests = OptInRequests(store: store, links: links, lifetime: configuration.confirmLinkLifetime, now: configuration.now)
        PublicPages(
            store: store, links: links, requests: requests, metrics: metrics, limiter: RateLimiter(perMinute: configuration.publicRequestsPerMinute),
            now: configuration.now)
            .register(on: router)

        let readYourWrites = ReadYourWrites(store: store, wait: configuration.minimumSequenceWait)
        let inboundService = InboundService(store: store, metrics: metrics, now: configuration.now)
        let inbound = InboundRoutes(
            store: store, service: inboundService, configuration: configuration,
            twilioLimiter: RateLimiter(perMinute: configuration.inboundRequestsPerMinute), readYourWrites: readYourWrites)
        inbound.registerTwilio(on: router)

        let runner = connectors ?? connectorRunner(store: store, configuration: configuration, metrics: metrics, logger: Logger(label: "hush.crm"))
        let accounts = ConsoleAccounts(
            store: store, idleTimeout: configuration.consoleIdleTimeout, passwordCost: configuration.passwordCost, now: configuration.now)
        func registerV1(on v1: V1Group) {
            KeyRoutes(store: store).register(on: v1)
            UserRoutes(accounts: accounts, store: store).register(on: v1)
            StatsRoutes(store: store, now: configuration.now).register(on: v1)
            ErasureRoutes(store: store, readYourWrites: readYourWrites).register(on: v1)
            V1Routes(store: store, metrics: metrics, readYourWrites: readYourWrites).register(on: v1)
            ListRoutes(store: store, metrics: metrics, webhooks: configuration.webhooks, readYourWrites: readYourWrites).register(on: v1)
            WebhookRoutes(store: store, settings: configuration.webhooks).register(on: v1)
            SendRoutes(store: store, metrics: metrics, now: configuration.now, readYourWrites: readYourWrites).register(on: v1)
            SequenceRoutes(store: store, readYourWrites: readYourWrites).register(on: v1)
            LedgerRoutes(store: store, readYourWrites: readYourWrites).register(on: v1)
            LinkRoutes(store: store, links: links, requests: requests, now: configuration.now).register(on: v1)
            inbound.register(on: v1)
            TriggerRoutes(store: store, service: inboundService, now: configuration.now, readYourWrites: readYourWrites).register(on: v1)
            ConnectorRoutes(store: store, runner: runner, allowPrivateTargets: configuration.webhooks.allowPrivateTargets, now: configuration.now)
                .register(on: v1)
        }
        let v1 = V1Group(router.group("v1").add(middleware: KeyMiddleware(authenticator: authenticator, metrics: metrics)))
        registerV1(on: v1)

        // The console calls the same `/v1` routes in process, as its signed-in user.
        let api = Router(context: HushRequestContext.self)
        api.add(middleware: ProblemMiddleware())
        registerV1(on: V1Group(api.group("v1")))
        ConsoleRoutes(
            accounts: accounts, api: ConsoleAPI(responder: api.buildResponder()), store: store,
            secureCookies: configuration.baseURL.hasPrefix("https://"), now: configuration.now)
            .register(on: router)
        return (router, v1.operations, CheckDoor(store: store, authenticator: authenticator, metrics: metrics, serverName: serverName))
    }
}

/// The `/v1` group, remembering what it serves so a test can hold the OpenAPI document to it.
final class V1Group {
    private let group: RouterGroup<HushRequestContext>
    private(set) var operations: [String] = []

    /// Who may call an operation that names no roles.
    static let apiRoles: [Role] = [.admin, .member]

    init(_ group: RouterGroup<HushRequestContext>) {
        self.group = group
    }

    /// Registers an operation that keys of `roles` may call; others get 403 before it runs.
    /// Most operations are for admin and member keys; `inbound` keys reach only the routes that
    /// name them.
    func on<Output: ResponseGenerator>(
        _ method: HTTPRequest.Method, _ path: String, roles: [Role] = apiRoles,
        use handler: @Sendable @escaping (Request, HushRequestContext) async throws -> Output
    ) {
        group.on(RouterPath(path), method: method) { request, context -> Output in
            let caller = try context.caller()
            guard roles.contains(caller.role) else {
                throw HushError(.forbidden, "this operation is for \(roles.map(\.rawValue).joined(separator: " or ")) keys, not \(caller.role.rawValue) keys")
            }
            return try await handler(request, context)
        }
        let documented = path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
        operations.append("\(method.rawValue) /v1/" + documented.joined(separator: "/"))
    }
}

/// The OpenAPI 3.1 document for `/v1`, shipped as a resource and served at `/openapi.yaml`.
enum OpenAPIDocument {
    static let text: String = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
              let text = try? String(contentsOf: url, encoding: .utf8)
        else { preconditionFailure("openapi.yaml is missing from the HushServer resources") }
        return text
    }()
}
