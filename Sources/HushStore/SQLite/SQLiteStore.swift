import Foundation
import GRDB
import HushCore
import Logging
import ServiceLifecycle

/// The embedded store: one SQLite file in WAL mode with `synchronous = FULL`, so a write that
/// returned survives a crash or power loss; the index in memory answers checks.
public final class SQLiteStore: Store, IndexBacked {
    public struct Configuration: Sendable {
        /// The database file; created and migrated when missing.
        public var path: String
        /// The secret erased addresses are hashed with. Keep it stable: a new one makes erased
        /// addresses unrecognizable.
        public var erasureKey: ErasureKey
        /// The key Hush's own secrets are stored under; derived from the erasure key unless
        /// given (`hush` gives its own, from HUSH_SECRET_KEY or `<database>.secret-key`).
        public var secretKey: SecretKey
        /// How often the index looks for writes made by other processes.
        public var followInterval: Duration
        public var logger: Logger
        /// The clock events are stamped with.
        public var now: @Sendable () -> Date
        /// Whether to load the index and follow the ledger. A short-lived command that only
        /// writes, or answers checks from the database (`decision(for:in:query:asOf:)`), skips it.
        public var loadsIndex: Bool = true
        /// A file to write the index to at close and read it back from at open when it matches
        /// the database (`IndexSnapshot`): a restart then replays the ledger's tail instead of
        /// loading every suppression. None by default; the `hush` commands set one (a store that
        /// keeps no index only removes it, with an erasure).
        public var indexSnapshot: String?

        public init(
            path: String, erasureKey: ErasureKey, followInterval: Duration = .milliseconds(20),
            logger: Logger = Logger(label: "hush.store"), now: @escaping @Sendable () -> Date = { Date() }
        ) {
            self.path = path
            self.erasureKey = erasureKey
            self.secretKey = SecretKey(derivedFrom: erasureKey)
            self.followInterval = followInterval
            self.logger = logger
            self.now = now
        }
    }

    /// WAL pages between checkpoints: 40 MiB rather than 4 MiB, so pages rewritten in between
    /// reach the database file once.
    static let walAutocheckpoint = 10_000

    let pool: DatabasePool
    let configuration: Configuration
    let indexed: IndexedStore
    let groupCommit: GroupCommit
    let directory: DirectoryCache
    private let writer: SQLiteWriter
    /// Checkpoints asked for by writes that leave many pages in the WAL; `run()` makes them.
    private let checkpoints: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)

    /// Opens (creating and migrating if needed) the database and loads the index. Following
    /// other processes' writes starts with `run()`.
    public init(_ configuration: Configuration) async throws {
        var grdb = GRDB.Configuration()
        grdb.busyMode = .timeout(10)
        let secrets = SecretStorage(key: configuration.secretKey)
        grdb.prepareDatabase { db in
            secrets.register(in: db)
            // 64 MiB of page cache per connection keeps large write batches from spilling.
            try db.execute(sql: "PRAGMA cache_size = -65536")
            // Checkpoint every 40 MiB of WAL rather than 4 MiB: pages rewritten between
            // checkpoints reach the database file once.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(SQLiteStore.walAutocheckpoint)")
            // Statement journals (one per statement inside a savepoint) stay in memory instead
            // of a temporary file written page by page.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        let pool: DatabasePool
        do {
            try DatabaseFiles.restrict(configuration.path)
            pool = try DatabasePool(path: configuration.path, configuration: grdb)
            // GRDB sets `synchronous = NORMAL` on the writer when it turns WAL on, after
            // `prepareDatabase`; FULL is set here, last, so every commit is fsynced.
            try await pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            // Two processes opening one new database at once would both see a migration as
            // not yet applied; the second would fail on "table already exists".
            try await SetupLock.holding(beside: configuration.path) {
                try SQLiteSchema.migrator.migrate(pool)
                try await pool.write { db in try SecretStorage.sealPlaintextRows(db) }
            }
            try DatabaseFiles.restrict(configuration.path)
        } catch let error as HushError {
            throw error
        } catch {
            throw HushError(.storage, "could not open the database at \(configuration.path): \(error)")
        }
        let indexed = try await IndexedStore(
            feed: SQLiteChangeFeed(pool: pool), erasureKey: configuration.erasureKey, loadsIndex: configuration.loadsIndex,
            expectedCount: { try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM suppressions") ?? 0 } },
            followInterval: configuration.followInterval, logger: configuration.logger, snapshot: configuration.indexSnapshot)
        self.pool = pool
        self.configuration = configuration
        self.indexed = indexed
        self.directory = DirectoryCache(now: configuration.now)
        self.writer = SQLiteWriter(pool: pool, indexed: indexed)
        self.groupCommit = GroupCommit(now: configuration.now) { [writer] group, now in
            try await writer.write { db in try Self.commit(group, db, now: StoredCoding.milliseconds(now)) }
        }
        self.checkpoints = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Follows the ledger for writes other processes make, and copies report pages from the
    /// WAL into the database file when a send asks, until the service group stops.
    public func run() async throws {
        let indexed = self.indexed
        let pool = self.pool
        let checkpoints = self.checkpoints.stream
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await indexed.run() }
            group.addTask {
                await cancelWhenGracefulShutdown {
                    for await _ in checkpoints {
                        // A send's report filled the writer's page cache (up to its 64 MiB) with
                        // pages no check reads: handed back here, or the server holds them for good.
                        try? await pool.writeWithoutTransaction { db in
                            try db.checkpoint(.passive)
                            db.releaseMemory()
                        }
                    }
                }
            }
        }
    }

    /// Asks `run()` for a passive checkpoint: the pages a large write left in the WAL reach the
    /// database file after the answer, not before it.
    func requestCheckpoint() {
        checkpoints.continuation.yield()
    }

    /// Closes the database. Call it once, after `run()` returned or when it never ran.
    public func close() async throws {
        do {
            try await indexed.saveSnapshot()
        } catch {
            configuration.logger.warning("the index snapshot was not written", metadata: ["error": "\(error)"])
        }
        checkpoints.continuation.finish()
        // `DatabasePool.close()` blocks until every reader is back. Blocking a thread of the
        // cooperative pool for that can starve the very tasks that would return them, so it
        // waits on a thread of its own.
        let pool = self.pool
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread.detachNewThread {
                continuation.resume(with: Result { try pool.close() })
            }
        }
    }

    /// Runs a write transaction that changes what the index holds, then brings the index up to
    /// date before returning, so every later check sees the write.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> (T, [IndexChange])) async throws -> T {
        try await writer.write(body)
    }

    func storageErrors<T>(_ body: () async throws -> T) async throws -> T {
        try await HushStore.storageErrors(body)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await storageErrors { try await pool.read(body) }
    }
}

/// Writes that change what the index holds: commit, then apply to the index before returning.
struct SQLiteWriter: Sendable {
    let pool: DatabasePool
    let indexed: IndexedStore

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> (T, [IndexChange])) async throws -> T {
        let (result, batch, from) = try await storageErrors {
            try await pool.write { db in
                let from = try SQLiteChangeFeed.head(db)
                let (result, changes) = try body(db)
                return (result, ChangeBatch(changes: changes, position: try SQLiteChangeFeed.head(db)), from)
            }
        }
        try await indexed.applyOwn(batch, from: from)
        return result
    }
}

/// Reports database failures as `storage` errors; domain errors pass unchanged.
func storageErrors<T>(_ body: () async throws -> T) async throws -> T {
    try await passingDomainErrors(body) { error in
        if let error = error as? DatabaseError, error.resultCode == .SQLITE_CONSTRAINT { return constraintError(error) }
        return HushError.storageFailure(error)
    }
}

/// Runs `body`, reporting the unique constraint on `columns` (as SQLite names them,
/// `lists.org_id, lists.name`) as `conflict`: the database decides uniqueness, not a read first.
func uniquely<T>(_ columns: String, else conflict: @autoclosure () -> HushError, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE && (error.message ?? "").contains(columns) {
        throw conflict()
    }
}

/// A constraint the database enforced, reported as a conflict naming the field it is about
/// when the constraint is a known one; the database's text goes to the log only.
func constraintError(_ error: DatabaseError) -> HushError {
    let text = error.message ?? ""
    let known: [(constraint: String, field: String, message: String)] = [
        ("lists.org_id, lists.name", "name", "a list with this name already exists"),
        ("list_keywords.org_id, list_keywords.keyword", "keywords", "a keyword belongs to another list"),
        ("rulesets.org_id, rulesets.name", "name", "a ruleset with this name already exists"),
        ("organizations.name", "name", "an organization with this name already exists"),
        ("webhook_endpoints.owner_list", "webhook_url", "the list already has a webhook endpoint"),
    ]
    if let match = known.first(where: { text.contains($0.constraint) }) {
        return HushError(.conflict, field: match.field, match.message, underlying: String(reflecting: error))
    }
    return HushError(.conflict, "the change conflicts with stored data; nothing was applied", underlying: String(reflecting: error))
}
