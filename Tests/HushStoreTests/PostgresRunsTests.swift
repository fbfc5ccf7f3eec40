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
}
