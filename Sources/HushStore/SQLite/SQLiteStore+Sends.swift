import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    // MARK: Sends

    /// Starts storing a send: its row, not listed until `completeSend`.
    public func beginSend(_ send: Send, in organization: OrganizationID) async throws -> Send {
        try await storageErrors {
            try await pool.write { db in
                _ = try Self.requireOrganization(db, organization)
                try db.execute(sql: """
                    INSERT INTO sends (org_id, name, campaign, channel, scope, lists, total, allowed, blocked, invalid, actor, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, 0, ?, ?)
                    """, arguments: [
                        organization.rawValue, send.name, send.campaign, send.channel.rawValue, send.scope.path,
                        send.lists.map { String($0.rawValue) }.joined(separator: ","), send.actor, StoredCoding.milliseconds(send.createdAt),
                    ])
                var stored = send
                stored.id = SendID(db.lastInsertedRowID)
                return stored
            }
        }
    }

    /// Stores part of a send's report; its own short transaction, so writers are not held up.
    /// It is committed without an fsync of its own: WAL frames reach the disk in order, so the
    /// fsync of `completeSend`'s commit makes every chunk before it durable too, and a send is
    /// only listed (and acknowledged) after that.
    public func appendReport(_ chunks: [SendReportChunk], to send: SendID) async throws {
        try await storageErrors {
            try await pool.writeWithoutTransaction { db in
                // No checkpoint in the middle of a send either: `completeSend` starts one after it.
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
                defer {
                    try? db.execute(sql: "PRAGMA synchronous = FULL")
                    try? db.execute(sql: "PRAGMA wal_autocheckpoint = \(SQLiteStore.walAutocheckpoint)")
                }
                try db.inTransaction {
                    try Self.insertChunks(db, chunks, to: send)
                    return .commit
                }
            }
        }
    }

    private static func insertChunks(_ db: Database, _ chunks: [SendReportChunk], to send: SendID) throws {
                let insert = try db.cachedStatement(sql: """
                    INSERT INTO send_reports (send_id, status, chunk, first_position, last_position, count, entries) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
                for chunk in chunks {
                    try insert.execute(arguments: [
                        send, chunk.status.rawValue, chunk.index, chunk.firstPosition, chunk.lastPosition, chunk.count, Data(chunk.entries),
                    ])
                }
    }

    /// Records the counts and lists the send; announces `send.blocked` when anyone was held back.
    /// The report's pages are then copied from the WAL into the database file in the background,
    /// after the answer rather than before it.
    public func completeSend(_ send: Send, in organization: OrganizationID) async throws -> Send {
        let now = StoredCoding.milliseconds(configuration.now())
        defer { requestCheckpoint() }
        return try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: """
                    UPDATE sends SET total = ?, allowed = ?, blocked = ?, invalid = ?, name = ?, campaign = ?, complete = 1
                    WHERE id = ? AND org_id = ?
                    """, arguments: [
                        send.counts.total, send.counts.allowed, send.counts.blocked, send.counts.invalid, send.name, send.campaign,
                        send.id, organization.rawValue,
                    ])
                guard db.changesCount == 1 else { throw HushError(.notFound, field: "id", "no send \(send.id) in this organization") }
                if let announced = WebhookRouting.announcement(of: send) {
                    var outbox = Outbox(db, organization: organization, now: configuration.now())
                    try outbox.enqueue([announced], addressIDs: [nil], now: now)
                }
                return send
            }
        }
    }

    /// Removes a send whose request failed before it was complete.
    public func discardSend(_ id: SendID) async throws {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "DELETE FROM send_reports WHERE send_id = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM sends WHERE id = ? AND complete = 0", arguments: [id])
            }
        }
    }

    /// Removes sends made before `cutoff`, and sends left incomplete (their request died with a
    /// server) since before `abandoned`, with their reports: one send per transaction.
    public func pruneSends(createdBefore cutoff: Date, incompleteBefore abandoned: Date) async throws -> Int {
        let ids = try await read { db in
            try Int64.fetchAll(db, sql: """
                SELECT id FROM sends WHERE created_at < ? OR (complete = 0 AND created_at < ?) ORDER BY id
                """, arguments: [StoredCoding.milliseconds(cutoff), StoredCoding.milliseconds(abandoned)])
        }
        for id in ids {
            try await storageErrors {
                try await pool.write { db in
                    try db.execute(sql: "DELETE FROM send_reports WHERE send_id = ?", arguments: [id])
                    try db.execute(sql: "DELETE FROM sends WHERE id = ?", arguments: [id])
                }
            }
        }
        return ids.count
    }

    public func sends(in organization: OrganizationID, after id: SendID, limit: Int) async throws -> [Send] {
        try await read { db in
            try Row.fetchAll(db, sql: Self.sendSelect + " WHERE org_id = ? AND complete = 1 AND id > ? ORDER BY id LIMIT ?",
                             arguments: [organization.rawValue, id, limit]).map(Self.send)
        }
    }

    public func send(_ id: SendID, in organization: OrganizationID) async throws -> Send? {
        try await read { db in
            try Row.fetchOne(db, sql: Self.sendSelect + " WHERE org_id = ? AND complete = 1 AND id = ?", arguments: [organization.rawValue, id]).map(Self.send)
        }
    }

    /// The report's chunks of `status` that hold entries after position `after`, in order; at
    /// most `limit` chunks.
    public func reportChunks(
        of send: SendID, status: SendReportChunk.Status, after position: Int, limit: Int
    ) async throws -> [SendReportChunk] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT chunk, first_position, last_position, count, entries FROM send_reports
                WHERE send_id = ? AND status = ? AND last_position > ? ORDER BY chunk LIMIT ?
                """, arguments: [send, status.rawValue, position, limit]).map { row in
                SendReportChunk(
                    status: status, index: row[0], firstPosition: row[1], lastPosition: row[2], count: row[3],
                    entries: [UInt8](row[4] as Data))
            }
        }
    }

    private static let sendSelect = """
        SELECT id, name, campaign, channel, scope, lists, total, allowed, blocked, invalid, actor, created_at FROM sends
        """

    private static func send(_ row: Row) throws -> Send {
        let lists: String = row[5]
        return Send(
            id: row[0], name: row[1], campaign: row[2], channel: try Channel(parsing: row[3]), scope: try StoredCoding.scope(row[4]),
            lists: lists.split(separator: ",").compactMap { Int64($0) }.map(ListID.init(rawValue:)),
            counts: Send.Counts(total: row[6], allowed: row[7], blocked: row[8], invalid: row[9]), actor: row[10],
            createdAt: StoredCoding.date(row[11]))
    }

    // MARK: Rulesets

    public func createRuleset(_ ruleset: Ruleset, in organization: OrganizationID) async throws -> Ruleset {
        let now = StoredCoding.milliseconds(configuration.now())
        return try await storageErrors {
            try await pool.write { db in
                _ = try Self.requireOrganization(db, organization)
                // Unique among active rulesets by the database, not by a read first.
                guard let id = try Int64.fetchOne(db, sql: """
                    INSERT INTO rulesets (org_id, name, on_opt_out, opted_out_stage, created_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (org_id, name) WHERE deleted_at IS NULL DO NOTHING
                    RETURNING id
                    """, arguments: [organization.rawValue, ruleset.name, ruleset.onOptOut.rawValue, ruleset.optedOutStage, now])
                else {
                    throw Self.rulesetNameTaken(ruleset.name)
                }
                var stored = ruleset
                stored.id = RulesetID(id)
                return stored
            }
        }
    }

    public func rulesets(in organization: OrganizationID) async throws -> [Ruleset] {
        try await read { db in
            try Row.fetchAll(db, sql: Self.rulesetSelect + " WHERE org_id = ? AND deleted_at IS NULL ORDER BY id",
                             arguments: [organization.rawValue]).map(Self.ruleset)
        }
    }

    public func ruleset(_ id: RulesetID, in organization: OrganizationID) async throws -> Ruleset? {
        try await read { db in
            try Row.fetchOne(db, sql: Self.rulesetSelect + " WHERE org_id = ? AND id = ? AND deleted_at IS NULL",
                             arguments: [organization.rawValue, id]).map(Self.ruleset)
        }
    }

    public func updateRuleset(_ ruleset: Ruleset, in organization: OrganizationID) async throws -> Ruleset {
        try await storageErrors {
            try await pool.write { db in
                try uniquely("rulesets.org_id, rulesets.name", else: Self.rulesetNameTaken(ruleset.name)) {
                    try db.execute(sql: """
                        UPDATE rulesets SET name = ?, on_opt_out = ?, opted_out_stage = ? WHERE id = ? AND org_id = ? AND deleted_at IS NULL
                        """, arguments: [ruleset.name, ruleset.onOptOut.rawValue, ruleset.optedOutStage, ruleset.id, organization.rawValue])
                }
                guard db.changesCount == 1 else { throw HushError(.notFound, field: "id", "no ruleset \(ruleset.id) in this organization") }
                return ruleset
            }
        }
    }

    public func deleteRuleset(_ id: RulesetID, in organization: OrganizationID) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        return try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "UPDATE rulesets SET deleted_at = ? WHERE id = ? AND org_id = ? AND deleted_at IS NULL",
                               arguments: [now, id, organization.rawValue])
                return db.changesCount == 1
            }
        }
    }

    private static let rulesetSelect = "SELECT id, name, on_opt_out, opted_out_stage FROM rulesets"

    private static func ruleset(_ row: Row) throws -> Ruleset {
        guard let onOptOut = Ruleset.OnOptOut(rawValue: row[2]) else {
            throw HushError(.storage, "a stored ruleset has an unknown on_opt_out")
        }
        return try Ruleset(id: row[0], name: row[1], onOptOut: onOptOut, optedOutStage: row[3])
    }

    private static func rulesetNameTaken(_ name: String) -> HushError {
        HushError(.conflict, field: "name", "a ruleset named \"\(name)\" already exists")
    }
}
