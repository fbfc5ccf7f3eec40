import Foundation
import HushCore
import HushStore
import Logging
import PostgresNIO

/// The same measurements on PostgreSQL (`--postgres=URL`), plus what only several nodes have:
/// how soon a second node's index applies a write made on the first, with no `min_sequence`.
/// The URL's database is emptied first (its `public` schema dropped): give it one of its own.
struct PostgresBenchmark {
    let entries: Int
    let url: String
    let only: String?
    let logger = Logger(label: "hush-bench")
    /// `HUSH_BENCH_KEEP=1`: reuse the database a run with as many entries left (a fixed erasure key).
    let keeps = benchKeeps
    let erasureKey = benchErasureKey()

    func run() async throws {
        print("\n== \(entries.formatted()) suppressed addresses, PostgreSQL ==")
        let organization: Organization
        if keeps, let kept = try await keptOrganization() {
            organization = kept
        } else {
            try await execute(["DROP SCHEMA public CASCADE", "CREATE SCHEMA public"])
            let setup = try await PostgresStore(configuration(loadsIndex: false))
            organization = try await setup.createOrganization(named: "bench")
            try await setup.close()
            let seedTime = try await measure { try await seed(organization) }
            report("seed database (bulk SQL)", "\(seconds(seedTime)) s")
        }

        let before = residentBytes()
        var loaded: PostgresStore?
        try? FileManager.default.removeItem(atPath: snapshotFile)
        let loadTime = try await measure { loaded = try await PostgresStore(configuration()) }
        let store = try unwrap(loaded)
        let after = residentBytes()
        report("index load from database", "\(seconds(loadTime)) s for \(store.indexedCount.formatted()) entries")
        report("memory per entry", "\((after - before) / max(store.indexedCount, 1)) bytes (resident growth)")
        try await Fixture.verify(store, organization: organization, entries: entries)
        report("seeded rows read as written ones", "yes")
        if only == "fixture" { return try await store.close() }
        if !Writes<PostgresStore>.selected(by: only) && only != "lag" {
            try await Checks(store: store, organization: organization.id, entries: entries).run()
        }
        if only != "checks" && only != "lag" {
            // What the seed (or an earlier kept run) wrote is flushed first, so its checkpoint
            // is not measured as the writes' time (a superuser's; skipped for anyone else).
            try? await execute(["CHECKPOINT"])
            try await Writes(store: store, organization: organization.id, only: only).run()
        }
        if only == nil || only == "lag" { try await lag(writer: store, organization: organization.id) }
        try await restart(store, reopen: { try await PostgresStore(configuration()) }, snapshot: snapshotFile)
        try? FileManager.default.removeItem(atPath: snapshotFile)
    }

    /// The organization a kept run seeded, when the database holds that run's entries.
    func keptOrganization() async throws -> Organization? {
        guard let store = try? await PostgresStore(configuration(loadsIndex: false)) else { return nil }
        let organization = try await store.organization(named: "bench")
        try await store.close()
        let configuration = try PostgresStore.connectionConfiguration(url)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        defer { Task { try? await connection.close() } }
        var seeded = 0
        for try await count in try await connection.query("SELECT count(*) FROM suppressions WHERE event_seq <= \(entries)", logger: logger).decode(Int.self) {
            seeded = count
        }
        return seeded == entries ? organization : nil
    }

    /// Where the loaded store writes its index snapshot when it closes.
    var snapshotFile: String { NSTemporaryDirectory() + "hush-bench-postgres-\(entries).index" }

    func configuration(loadsIndex: Bool = true) -> PostgresStore.Configuration {
        var configuration = PostgresStore.Configuration(url: url, erasureKey: erasureKey, logger: logger)
        configuration.loadsIndex = loadsIndex
        configuration.indexSnapshot = loadsIndex ? snapshotFile : nil
        configuration.poolSize = 20
        return configuration
    }

    /// Cross-node visibility: a second node (its own pool, index and listener) follows while the
    /// first writes one opt-out at a time; the lag is from the write's return to the moment the
    /// second node's check blocks it.
    func lag(writer: PostgresStore, organization: OrganizationID) async throws {
        let reader = try await PostgresStore(configuration())
        let following = Task { try await reader.run() }
        defer { following.cancel() }
        try await reader.catchUp()
        let run = UUID().uuidString.prefix(8).lowercased()
        var lags: [Duration] = []
        for i in 0..<500 {
            let address = try Address(parsing: "lag\(i)-\(run)@example.com")
            _ = try await writer.record(OptOut(subject: .address(address), channel: .only(.email), actor: "bench"), in: organization)
            let written = ContinuousClock.now
            while reader.blocks(for: address, in: organization, query: CheckQuery(channel: .email)).isEmpty {
                guard ContinuousClock.now - written < .seconds(10) else { throw MissingValue() }
                await Task.yield()
            }
            lags.append(ContinuousClock.now - written)
        }
        lags.sort()
        let milliseconds = { (duration: Duration) in String(format: "%.2f", duration.inSeconds * 1_000) }
        report("cross-node lag, no min_sequence (500 writes)", "p50 \(milliseconds(lags[lags.count / 2])) ms, p99 \(milliseconds(lags[lags.count * 99 / 100])) ms, max \(milliseconds(lags.last!)) ms")
        following.cancel()
        _ = await following.result
        try await reader.close()
    }

    /// The rows `Fixture.seed` writes to SQLite, written by PostgreSQL itself from a series.
    func seed(_ organization: Organization) async throws {
        let org = organization.id.rawValue
        let list = organization.defaultList.rawValue
        let key = "CASE WHEN i % 2 = 0 THEN 'user' || i || '@example.com' ELSE '+4420' || lpad(i::text, 8, '0') END"
        try await execute([
            "SET synchronous_commit = off",
            """
            INSERT INTO addresses (id, org_id, kind, key, display)
            SELECT i, \(org), CASE WHEN i % 2 = 0 THEN 'email' ELSE 'phone' END, \(key), \(key) FROM generate_series(1, \(entries)) i
            """,
            """
            INSERT INTO ledger (seq, org_id, kind, recorded_at, address_id, channel, scope, list_id, source, actor)
            SELECT i, \(org), 'opt_out', 1780000000000 + i, i, CASE WHEN i % 2 = 0 THEN 'email' ELSE 'sms' END, '', \(list), 'import', 'bench'
            FROM generate_series(1, \(entries)) i
            """,
            """
            INSERT INTO suppressions (id, org_id, address_id, subject_key, channel, list_id, scope, since, source, event_seq)
            SELECT i, \(org), i, \(key), CASE WHEN i % 2 = 0 THEN 'email' ELSE 'sms' END, \(list), '', 1780000000000 + i, 'import', i
            FROM generate_series(1, \(entries)) i
            """,
            "SELECT setval('addresses_id_seq', \(entries))",
            "SELECT setval('suppressions_id_seq', \(entries))",
            "ANALYZE",
        ])
    }

    /// Runs statements on a connection of its own.
    func execute(_ statements: [String]) async throws {
        let configuration = try PostgresStore.connectionConfiguration(url)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        defer { Task { try? await connection.close() } }
        for statement in statements {
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
    }
}
