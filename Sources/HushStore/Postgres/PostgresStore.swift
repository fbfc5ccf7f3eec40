import Foundation
import HushCore
import Logging
import NIOSSL
import PostgresNIO
import ServiceLifecycle

/// Hush on a PostgreSQL server (15 or later), shared by any number of `hush serve` nodes. Each
/// node keeps its own index in memory; the ledger, contact links and erasures are appended under
/// one advisory lock from allocating a position to commit (the ordering contract, `ChangeFeed`),
/// and every such commit sends `NOTIFY hush_changes`, which wakes the other nodes' followers at
/// once; a poll every `followInterval` covers a lost notification or a reconnect.
///
/// The connection pool (`PostgresClient`) runs from `init` to `close()`: the store needs it to
/// migrate and load its index before any service starts. `run()` follows the other nodes.
public final class PostgresStore: Store, IndexBacked {
    public struct Configuration: Sendable {
        /// `postgres://user:password@host:port/database?sslmode=disable|prefer|require`.
        public var url: String
        /// Shared by every node (see docs/deploy.md): erased addresses are hashed with it.
        public var erasureKey: ErasureKey
        /// Shared by every node: the key webhook secrets, the Twilio token and link keys are sealed with.
        public var secretKey: SecretKey
        /// Connections this node opens at most (one of them listens for other nodes' commits).
        public var poolSize: Int = 16
        /// How often the index polls for other nodes' writes when no notification came.
        public var followInterval: Duration = .seconds(1)
        public var logger: Logger
        /// The clock events are stamped with.
        public var now: @Sendable () -> Date
        /// Whether to load the index and follow the ledger (short-lived commands skip it).
        public var loadsIndex: Bool = true
        /// A file to write the index to at close and read it back from at open when it matches
        /// the database (`IndexSnapshot`): a restart then replays the ledger's tail instead of
        /// loading every suppression. None by default; the `hush` commands set one (a store that
        /// keeps no index only removes it, with an erasure).
        public var indexSnapshot: String?
        /// The name this node leases webhook deliveries under. Keep it stable across restarts
        /// (`hush serve` uses host and port), so a restarted node takes back at once what it held
        /// when it died; two live nodes must not share it. Without one: host and process id.
        public var node: String?
        /// How long a transaction of this node's may sit idle before PostgreSQL ends it (and
        /// drops its locks): a node that freezes or loses its network while it holds the append
        /// lock then stops every node's writes for this long, not until TCP gives up (hours).
        public var idleTransactionTimeout: Duration = .seconds(30)

        public init(
            url: String, erasureKey: ErasureKey, logger: Logger = Logger(label: "hush.store"),
            now: @escaping @Sendable () -> Date = { Date() }
        ) {
            self.url = url
            self.erasureKey = erasureKey
            self.secretKey = SecretKey(derivedFrom: erasureKey)
            self.logger = logger
            self.now = now
        }
    }

    /// The channel every commit that appends to the ledger, links or erasures notifies.
    static let changesChannel = "hush_changes"

    let client: PostgresClient
    private let clientTask: Task<Void, Never>
    let configuration: Configuration
    let indexed: IndexedStore
    let directory: DirectoryCache
    let logger: Logger
    let database: PostgresDatabase
    let groupCommit: GroupCommit
    /// Large batches make their address rows in turn (`recordAlone`).
    let addressTurns = Turns()
    /// This node's name in leases (`webhook_deliveries.leased_by`; `Configuration.node`).
    let node: String

    public init(_ configuration: Configuration) async throws {
        let clientConfiguration = try Self.clientConfiguration(
            configuration.url, poolSize: configuration.poolSize, idleTransactionTimeout: configuration.idleTransactionTimeout)
        let client = PostgresClient(configuration: clientConfiguration, backgroundLogger: configuration.logger)
        // The pool runs from here to `close()`. The task signals as it calls `run()`, which marks
        // the client running before it first suspends, so the first lease finds it running.
        let (started, starting) = AsyncStream<Void>.makeStream()
        let clientTask = Task {
            starting.finish()
            await client.run()
        }
        for await _ in started {}
        let logger = configuration.logger
        let indexed: IndexedStore
        do {
            try await client.withConnection { connection in
                try await PostgresSchema.migrate(connection, logger: logger)
                try await PostgresSecrets.verifyKeys(
                    connection, erasureKey: configuration.erasureKey, secretKey: configuration.secretKey, logger: logger)
            }
            let feed = PostgresChangeFeed(client: client, logger: logger)
            indexed = try await IndexedStore(
                feed: feed, erasureKey: configuration.erasureKey, loadsIndex: configuration.loadsIndex,
                expectedCount: {
                    Int(try await client.withConnection { try await $0.value("SELECT COUNT(*) FROM suppressions", as: Int64.self, logger: logger) } ?? 0)
                },
                followInterval: configuration.followInterval, logger: logger, snapshot: configuration.indexSnapshot)
        } catch {
            clientTask.cancel()
            await clientTask.value
            if let error = error as? HushError { throw error }
            throw HushError(.storage, "could not open the PostgreSQL database: \(String(reflecting: error))")
        }
        self.client = client
        self.indexed = indexed
        self.clientTask = clientTask
        self.configuration = configuration
        self.logger = logger
        self.directory = DirectoryCache(now: configuration.now)
        self.node = configuration.node ?? "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
        let database = PostgresDatabase(client: client, indexed: indexed, logger: logger)
        self.database = database
        self.groupCommit = GroupCommit(now: configuration.now) { group, now in
            try await database.append { connection in
                try await PostgresChangeTransaction.commit(
                    group, connection, logger: logger, now: StoredCoding.milliseconds(now), notifying: database.instance)
            }
        }
    }

    /// Follows the other nodes' writes: woken by their notifications, and polling every
    /// `followInterval`, until the service group stops.
    public func run() async throws {
        guard configuration.loadsIndex else { return }
        let indexed = self.indexed
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await indexed.run() }
            group.addTask { await cancelWhenGracefulShutdown { await self.listen() } }
        }
    }

    /// Listens for commits on a connection of its own and catches up on each; reconnects after
    /// a failure (the poll covers what was missed meanwhile).
    private func listen() async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.changesChannel) { notifications in
                        // Writes that landed while not listening.
                        try await self.indexed.followUp()
                        for try await notification in notifications where notification.payload != self.database.instance {
                            try await self.indexed.followUp()
                        }
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning("listening for other nodes' writes failed; polling until it reconnects", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    public func close() async throws {
        do {
            try await indexed.saveSnapshot()
        } catch {
            logger.warning("the index snapshot was not written", metadata: ["error": "\(error)"])
        }
        clientTask.cancel()
        await clientTask.value
    }

    // MARK: Transactions

    func read<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await database.read(body)
    }

    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await database.transaction(body)
    }

    func write<T: Sendable>(
        prepare: ((PostgresConnection) async throws -> Void)? = nil, _ body: (PostgresConnection) async throws -> (T, [IndexChange])
    ) async throws -> T {
        try await database.write(prepare: prepare, body)
    }

    func storageErrors<T>(_ body: () async throws -> T) async throws -> T {
        try await database.storageErrors(body)
    }

    /// A database error as Hush reports it: a known constraint as a conflict naming its field,
    /// any other constraint as a conflict, the rest as `storage`.
    static func mapped(_ error: PSQLError) -> HushError {
        let state = error.serverInfo?[.sqlState] ?? ""
        let underlying = String(reflecting: error)
        let constraint = error.serverInfo?[.constraintName] ?? ""
        let known: [String: (field: String, message: String)] = [
            "lists_active_name": ("name", "a list with this name already exists"),
            "list_keywords_pkey": ("keywords", "a keyword belongs to another list"),
            "rulesets_active_name": ("name", "a ruleset with this name already exists"),
            "organizations_name_key": ("name", "an organization with this name already exists"),
            "webhook_endpoints_owner_list": ("webhook_url", "the list already has a webhook endpoint"),
            "connectors_name": ("name", "a connector with this name already exists"),
        ]
        if state.hasPrefix("23") {
            if let match = known[constraint] { return HushError(.conflict, field: match.field, match.message, underlying: underlying) }
            return HushError(.conflict, "the change conflicts with stored data; nothing was applied", underlying: underlying)
        }
        if state == "P0001" {
            return HushError(.conflict, error.serverInfo?[.message] ?? "the change is not allowed", underlying: underlying)
        }
        if state == "22021" || state == "22P05" {
            // SQLite stores a NUL character; PostgreSQL text cannot hold one.
            return HushError(.invalidInput, "text holding a NUL character (\\u0000) cannot be stored", underlying: underlying)
        }
        return HushError.storageFailure(error)
    }

    /// Whether `error` is a unique violation of `constraint`.
    static func isUniqueViolation(_ error: any Error, _ constraint: String) -> Bool {
        guard let error = error as? PSQLError else { return false }
        return error.serverInfo?[.sqlState] == "23505" && error.serverInfo?[.constraintName] == constraint
    }

    // MARK: Configuration

    /// What a `postgres://` (or `postgresql://`) URL names. `sslmode` is `disable`, `prefer`
    /// (the default: TLS when the server offers it), `require` (TLS, certificate not checked, as
    /// libpq does), `verify-ca` (checked against the trusted roots) or `verify-full` (and the
    /// host name); `host=/path` in the query names a Unix socket directory instead of a host.
    struct Location {
        var user: String
        var password: String?
        var database: String?
        var host: String
        var port: Int
        var socket: String?
        var tls: TLSConfiguration?
        var tlsRequired: Bool

        init(_ url: String) throws {
            guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
                throw HushError.invalid("database", "a PostgreSQL URL looks like postgres://user:password@host:5432/database")
            }
            let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
            user = components.percentEncodedUser?.removingPercentEncoding ?? "postgres"
            password = components.percentEncodedPassword?.removingPercentEncoding
            database = String(components.path.drop { $0 == "/" }).removingPercentEncoding.flatMap { $0.isEmpty ? nil : $0 }
            port = components.port ?? 5432
            socket = query["host"].flatMap { $0.hasPrefix("/") ? "\($0)/.s.PGSQL.\(components.port ?? 5432)" : nil }
            host = components.host ?? ""
            guard socket != nil || !host.isEmpty else { throw HushError.invalid("database", "the PostgreSQL URL names no host") }
            var tls = TLSConfiguration.makeClientConfiguration()
            switch query["sslmode"] ?? "prefer" {
            case "disable": self.tls = nil; tlsRequired = false; return
            case "allow", "prefer": tlsRequired = false
            case "require": tlsRequired = true; tls.certificateVerification = .none
            case "verify-ca": tlsRequired = true; tls.certificateVerification = .noHostnameVerification
            case "verify-full": tlsRequired = true
            case let other:
                throw HushError.invalid("database", "sslmode \(other) is not one of disable, prefer, require, verify-ca, verify-full")
            }
            self.tls = tls
        }
    }

    /// The pool's configuration from a PostgreSQL URL (see `Location`).
    static func clientConfiguration(_ url: String, poolSize: Int, idleTransactionTimeout: Duration) throws -> PostgresClient.Configuration {
        let location = try Location(url)
        var configuration: PostgresClient.Configuration
        if let socket = location.socket {
            configuration = .init(unixSocketPath: socket, username: location.user, password: location.password, database: location.database)
        } else {
            let tls: PostgresClient.Configuration.TLS = switch (location.tls, location.tlsRequired) {
            case (nil, _): .disable
            case (let tls?, false): .prefer(tls)
            case (let tls?, true): .require(tls)
            }
            configuration = .init(
                host: location.host, port: location.port, username: location.user, password: location.password,
                database: location.database, tls: tls)
        }
        // Acknowledged means durable: a commit returns once its WAL is flushed, whatever the
        // server's default (a transaction may still lower it for itself, as send reports do).
        // The append lock's heads are read by statements that start after the lock is held
        // (`hush_append_lock()`), which sees what committed meanwhile only under read committed:
        // it is set here whatever the server's default.
        // A node that dies or freezes inside a transaction must not hold the append lock (and so
        // every node's writes) for ever: PostgreSQL ends a transaction left idle, and probes an
        // idle connection so that a dead peer's session (and a session lock) ends in about 25 s
        // rather than after the kernel's two hours.
        let idle = max(1, Int(idleTransactionTimeout.components.seconds))
        configuration.options.additionalStartupParameters = [
            ("synchronous_commit", "on"), ("default_transaction_isolation", "read committed"), ("application_name", "hush"),
            ("idle_in_transaction_session_timeout", "\(idle)s"),
            ("tcp_keepalives_idle", "10"), ("tcp_keepalives_interval", "5"), ("tcp_keepalives_count", "3"),
        ]
        configuration.options.maximumConnections = max(2, poolSize)
        configuration.options.minimumConnections = 0
        return configuration
    }

    /// One connection's configuration from a PostgreSQL URL, for tools that open their own
    /// (hush-bench's seeding).
    public static func connectionConfiguration(_ url: String) throws -> PostgresConnection.Configuration {
        let location = try Location(url)
        if let socket = location.socket {
            return .init(unixSocketPath: socket, username: location.user, password: location.password, database: location.database)
        }
        let tls: PostgresConnection.Configuration.TLS = switch (location.tls, location.tlsRequired) {
        case (nil, _): .disable
        case (let tls?, false): .prefer(try NIOSSLContext(configuration: tls))
        case (let tls?, true): .require(try NIOSSLContext(configuration: tls))
        }
        return .init(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: tls)
    }
}

/// Queries as the store runs them: rows collected, or the first value of the first row.
extension PostgresConnection {
    @discardableResult
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        try requireOpen()
        return try await self.query(query, logger: logger).collect()
    }

    func value<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type, logger: Logger) async throws -> T? {
        try requireOpen()
        for try await row in try await self.query(query, logger: logger) {
            guard let cell = row.first, cell.bytes != nil else { return nil }
            return try cell.decode(T.self)
        }
        return nil
    }

    /// The driver never answers a statement sent on a connection the server closed (a
    /// transaction left idle past `idle_in_transaction_session_timeout` while this node froze):
    /// such a statement fails instead of waiting for ever.
    func requireOpen() throws {
        guard !isClosed else {
            throw HushError(.storage, "the database closed this connection (a transaction idle too long); nothing more was written")
        }
    }
}
