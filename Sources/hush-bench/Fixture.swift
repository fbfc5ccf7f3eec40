import Foundation
import GRDB
import HushCore
import HushStore

/// Seeds a database with `entries` suppressed addresses in one SQL statement per table, far
/// faster than the write path (whose speed `Writes` measures separately). Even rows are email
/// addresses, odd rows phone numbers.
///
/// The rows are written by hand, so a migration could leave them behind what the store writes.
/// `verify` holds them to it: every bench run (and CI, with `hush-bench --only=fixture`) checks
/// that the store loads every seeded row and reads a seeded opt-out exactly as it reads one
/// recorded through its own API, and stops when they differ.
enum Fixture {
    static func seed(path: String, entries: Int, erasureKey: ErasureKey) async throws {
        let store = try await SQLiteStore(.init(path: path, erasureKey: erasureKey))
        let organization = try await store.createOrganization(named: "bench")
        try await store.close()

        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = OFF") }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try await queue.write { db in
            let org = organization.id.rawValue
            let list = organization.defaultList.rawValue
            try db.execute(sql: "CREATE TEMP TABLE seed AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT i, \(keySQL) AS key FROM n", arguments: [entries])
            try db.execute(sql: """
                INSERT INTO addresses (id, org_id, kind, key, display)
                SELECT i, ?, CASE WHEN i % 2 = 0 THEN 'email' ELSE 'phone' END, key, key FROM seed
                """, arguments: [org])
            try db.execute(sql: """
                INSERT INTO ledger (seq, org_id, kind, recorded_at, address_id, channel, scope, list_id, source, actor)
                SELECT i, ?, 'opt_out', 1780000000000 + i, i, CASE WHEN i % 2 = 0 THEN 'email' ELSE 'sms' END, '', ?,
                       'import', 'bench' FROM seed
                """, arguments: [org, list])
            try db.execute(sql: """
                INSERT INTO suppressions (id, org_id, address_id, subject_key, channel, list_id, scope, since, source, event_seq)
                SELECT i, ?, i, key, CASE WHEN i % 2 = 0 THEN 'email' ELSE 'sms' END, ?, '', 1780000000000 + i, 'import', i
                FROM seed
                """, arguments: [org, list])
            try db.execute(sql: "DROP TABLE seed")
            try SQLiteStore.recountConsoleCounters(db)
        }
        try queue.close()
    }

    /// The address of row `i`, as SQL.
    static let keySQL = "CASE WHEN i % 2 = 0 THEN 'user' || i || '@example.com' ELSE printf('+4420%08d', i) END"

    /// The same address in Swift.
    static func address(_ i: Int) -> String {
        i % 2 == 0 ? "user\(i)@example.com" : "+4420" + String(format: "%08d", i)
    }

    static func channel(_ i: Int) -> Channel {
        i % 2 == 0 ? .email : .sms
    }

    struct Mismatch: Error, CustomStringConvertible {
        let description: String
    }

    /// Throws unless the store holds every seeded row and reads seeded opt-outs (an email and a
    /// phone number) as it reads the same opt-outs recorded through `Ledger.record`.
    static func verify(_ store: any Store, organization: Organization, entries: Int) async throws {
        guard store.indexedCount >= entries else {
            throw Mismatch(description: "the store loaded \(store.indexedCount) of \(entries) seeded suppressions")
        }
        let counted = try await store.suppressionCounts(in: organization.id).map(\.suppressions).reduce(0, +)
        guard counted >= entries else {
            throw Mismatch(description: "the console's counters hold \(counted) of \(entries) seeded suppressions")
        }
        for (seeded, written) in [(2, "fixture-check@example.com"), (1, "+442099999999")] {
            let seededAddress = try Address(parsing: address(seeded))
            let writtenAddress = try Address(parsing: written)
            let channel = Fixture.channel(seeded)
            _ = try await store.record(
                OptOut(subject: .address(writtenAddress), channel: .only(channel), source: .import, actor: "bench"), in: organization.id)
            let query = CheckQuery(channel: channel, scope: .organization, lists: [])
            let read = try await (
                suppressions: store.suppressions(of: seededAddress, in: organization.id),
                events: store.events(in: organization.id, after: 0, limit: 10, address: seededAddress),
                blocks: store.blocks(for: seededAddress, in: organization.id, query: query))
            let expected = try await (
                suppressions: store.suppressions(of: writtenAddress, in: organization.id),
                events: store.events(in: organization.id, after: 0, limit: 10, address: writtenAddress),
                blocks: store.blocks(for: writtenAddress, in: organization.id, query: query))
            let same = read.suppressions.map(\.comparable) == expected.suppressions.map(\.comparable)
                && read.events.map(\.comparable) == expected.events.map(\.comparable)
                && read.blocks.map(\.comparable) == expected.blocks.map(\.comparable)
                && !read.blocks.isEmpty
            guard same else {
                throw Mismatch(description: """
                    seeded rows read differently from rows the store writes; update Fixture.seed to the schema
                    seeded: \(read)
                    written: \(expected)
                    """)
            }
        }
    }
}

/// What must match between a seeded row and a written one: everything but the subject, the
/// sequence and the time.
private extension Suppression {
    var comparable: String { "\(channel) \(list) \(scope.path) \(source) \(hold)" }
}

private extension LedgerEvent {
    var comparable: String { "\(kind) \(channel) \(list) \(scope.path) \(source) \(actor) \(evidence.isEmpty) \(hold)" }
}

private extension Decision.Block {
    var comparable: String { "\(list) \(listName) \(scope.path) \(channel) \(source) \(String(describing: contact)) \(hold)" }
}
