import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

/// Says whether the suites ran on PostgreSQL too: without `HUSH_TEST_POSTGRES_URL` (a plain
/// `swift test`) this test is reported skipped, with the reason; `.ci/run` starts a server.
@Suite(.serialized) struct PostgresRunsTests {
    @Test(.enabled(
        if: PostgresServer.url != nil,
        "HUSH_TEST_POSTGRES_URL is not set: every suite ran on SQLite only and the PostgreSQL runs were skipped (scripts/postgres.sh start prints a URL)"),
        .everyBackend)
    func thePostgresServerIsReachedAndMigrated() async throws {
        guard Backend.current == .postgres else { return }
        let test = try await TestStore()
        #expect(test.store is PostgresStore)
        #expect(try await test.store.organization(named: "acme") != nil)
    }
}
