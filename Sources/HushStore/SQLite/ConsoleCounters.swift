import GRDB
import HushCore

/// The console overview's counters (`ledger_daily`, `suppression_counts`), kept by the
/// transaction that changes what they count: one upsert per group a write touches. Row
/// triggers did this from v12 to v13, an upsert per row (SQLite has no statement triggers),
/// and cost a 10 000-opt-out batch about 15 % of its time. Every ledger append and suppression
/// change goes through `ChangeTransaction`, which keeps these.
struct ConsoleCounters {
    private struct Events: Hashable {
        let kind: EventKind
        let channel: ChannelSelection
        let source: Source
    }

    private struct Suppressions: Hashable {
        let list: ListID
        let channel: ChannelSelection
    }

    private var events: [Events: Int64] = [:]
    private var suppressions: [Suppressions: Int64] = [:]

    mutating func appended(_ kind: EventKind, channel: ChannelSelection, source: Source, count: Int = 1) {
        events[Events(kind: kind, channel: channel, source: source), default: 0] += Int64(count)
    }

    mutating func suppressions(on list: ListID, channel: ChannelSelection, changedBy delta: Int) {
        suppressions[Suppressions(list: list, channel: channel), default: 0] += Int64(delta)
    }

    /// Adds what was counted to the tables, in the caller's transaction.
    func write(_ db: Database, organization: OrganizationID, at now: Int64) throws {
        let day = now / 86_400_000
        for (group, count) in events {
            try db.cachedStatement(sql: """
                INSERT INTO ledger_daily (org_id, day, kind, channel, source, events) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT DO UPDATE SET events = events + excluded.events
                """).execute(arguments: [
                    organization.rawValue, day, group.kind.rawValue, group.channel.rawValue, group.source.rawValue, count,
                ])
        }
        for (group, delta) in suppressions where delta != 0 {
            try db.cachedStatement(sql: """
                INSERT INTO suppression_counts (org_id, list_id, channel, suppressions) VALUES (?, ?, ?, ?)
                ON CONFLICT DO UPDATE SET suppressions = suppressions + excluded.suppressions
                """).execute(arguments: [organization.rawValue, group.list.rawValue, group.channel.rawValue, delta])
        }
    }

    /// Both tables counted again from the ledger and the suppressions (for rows written by
    /// hand, as `hush-bench` seeds them).
    static let recount = """
        DELETE FROM ledger_daily;
        INSERT INTO ledger_daily (org_id, day, kind, channel, source, events)
            SELECT org_id, recorded_at / 86400000, kind, channel, source, COUNT(*) FROM ledger GROUP BY 1, 2, 3, 4, 5;
        DELETE FROM suppression_counts;
        INSERT INTO suppression_counts (org_id, list_id, channel, suppressions)
            SELECT org_id, list_id, channel, COUNT(*) FROM suppressions GROUP BY 1, 2, 3;
        """
}

extension SQLiteStore {
    /// Counts the console's figures again from the tables underneath, in one transaction.
    public static func recountConsoleCounters(_ db: Database) throws {
        try db.execute(sql: ConsoleCounters.recount)
    }
}
