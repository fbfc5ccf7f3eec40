import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

/// Says whether the suites ran on PostgreSQL too: without `HUSH_TEST_POSTGRES_URL` (a plain
/// `swift test`) these tests are reported skipped, with the reason; `.ci/run` starts a server.
/// And what only PostgreSQL has: nodes starting together, keys every node must share.
@Suite(
    .enabled(
        if: PostgresServer.url != nil,
        "HUSH_TEST_POSTGRES_URL is not set: every suite ran on SQLite only and the PostgreSQL runs were skipped (scripts/postgres.sh start prints a URL)"),
    .postgresOnly)
struct PostgresRunsTests {
    @Test func thePostgresServerIsReachedAndMigrated() async throws {
        let test = try await TestStore()
        #expect(test.store is PostgresStore)
        #expect(try await test.store.organization(named: "acme") != nil)
    }

    @Test func nodesStartingOnOneNewDatabaseTogetherMigrateItOnce() async throws {
        let database = try await Backend.postgres.newDatabase()
        let stores = try await withThrowingTaskGroup(of: (any Store).self) { group in
            for _ in 0..<4 {
                group.addTask { try await database.open(erasureKey: TestStore.erasureKey, clock: TestClock()) }
            }
            var stores: [any Store] = []
            for try await store in group { stores.append(store) }
            return stores
        }
        #expect(stores.count == 4, "every node started")
        let migrations = try await rawSQL("SELECT name FROM hush_migrations", on: stores[0])
        #expect(migrations.count == PostgresSchema.migrations.count, "each migration applied once: \(migrations)")
    }

    @Test func aNodeWithOtherKeysThanTheFirstRefusesToStart() async throws {
        let test = try await TestStore()
        await #expect(throws: HushError.self, "another erasure key") {
            _ = try await test.database.open(erasureKey: .random(), clock: TestClock())
        }
        await #expect(throws: HushError.self, "another secret key") {
            _ = try await test.database.open(erasureKey: TestStore.erasureKey, clock: TestClock(), secretKey: .random())
        }
        _ = try await test.database.open(erasureKey: TestStore.erasureKey, clock: TestClock())
    }

    /// A node that freezes inside a transaction while it holds the append lock holds up the
    /// other nodes' writes only until PostgreSQL ends the idle transaction (its
    /// `idleTransactionTimeout`, 1 s here), not until TCP notices (hours). The two minutes are
    /// a ceiling for a node that never lets go, not a pace.
    @Test func aFrozenNodeHoldingTheAppendLockHoldsUpOtherWritesBriefly() async throws {
        let test = try await TestStore()
        var configuration = PostgresStore.Configuration(url: test.database.location, erasureKey: TestStore.erasureKey)
        configuration.idleTransactionTimeout = .seconds(1)
        configuration.loadsIndex = false
        configuration.poolSize = 2
        let frozen = try await PostgresStore(configuration)
        TestScope.onEnd { try? await frozen.close() }
        let (locked, lockTaken) = AsyncStream<Void>.makeStream()
        let (released, release) = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await frozen.client.withConnection { connection in
                try await connection.query("BEGIN", logger: frozen.logger)
                try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.appendLock))", logger: frozen.logger)
                lockTaken.finish()
                for await _ in released {}
                // Ended by the server: the driver (PostgresNIO 1.x) would wait for ever for an
                // answer to a statement sent now, which `PostgresDatabase.transaction` checks for.
                guard connection.isClosed else {
                    try await connection.query("COMMIT", logger: frozen.logger)
                    return false
                }
                return true
            }
        }
        for await _ in locked {}
        let written = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await test.optOut("ann@example.com").events.count == 1 }
            group.addTask {
                try await Task.sleep(for: .seconds(120))
                release.finish()  // the frozen node lets go, so that the write ends and the test with it
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
        release.finish()
        #expect(try await holder.value, "the server ended the frozen node's transaction")
        #expect(written, "the write went through once the frozen node's transaction was ended")
    }
}
