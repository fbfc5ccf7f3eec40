import Foundation
import HushCore
import Logging
import PostgresNIO

extension PostgresStore {
    // MARK: Sends

    /// Starts storing a send: its row, not listed until `completeSend`.
    public func beginSend(_ send: Send, in organization: OrganizationID) async throws -> Send {
        let logger = self.logger
        return try await transaction { connection in
            _ = try await Self.requireOrganization(connection, organization, logger: logger)
            guard let id = try await connection.value("""
                INSERT INTO sends (org_id, name, campaign, channel, scope, lists, total, allowed, blocked, invalid, actor, created_at)
                VALUES (\(organization.rawValue), \(send.name), \(send.campaign), \(send.channel.rawValue), \(send.scope.path),
                        \(send.lists.map { String($0.rawValue) }.joined(separator: ",")), 0, 0, 0, 0, \(send.actor),
                        \(StoredCoding.milliseconds(send.createdAt)))
                RETURNING id
                """, as: Int64.self, logger: logger)
            else {
                throw HushError(.storage, "the send was not written")
            }
            var stored = send
            stored.id = SendID(rawValue: id)
            return stored
        }
    }

    /// Stores part of a send's report; its own short transaction, so writers are not held up.
    /// It is committed without waiting for its WAL to be flushed (`synchronous_commit = off`):
    /// the WAL reaches the disk in order, so the flush of `completeSend`'s commit makes every
    /// chunk before it durable too, and a send is only listed (and acknowledged) after that.
    public func appendReport(_ chunks: [SendReportChunk], to send: SendID) async throws {
        guard !chunks.isEmpty else { return }
        let logger = self.logger
        try await transaction { connection in
            try await connection.rows("SET LOCAL synchronous_commit = off", logger: logger)
            try await Self.insertChunks(connection, chunks, to: send, logger: logger)
        }
    }

    /// One statement for all the chunks: their columns as arrays, unnested into rows.
    private static func insertChunks(
        _ connection: PostgresConnection, _ chunks: [SendReportChunk], to send: SendID, logger: Logger
    ) async throws {
        try await connection.rows("""
            INSERT INTO send_reports (send_id, status, chunk, first_position, last_position, count, entries)
            SELECT \(send.rawValue), status, chunk, first_position, last_position, count, entries
            FROM UNNEST(\(chunks.map(\.status.rawValue))::text[], \(chunks.map { Int64($0.index) })::bigint[],
                        \(chunks.map { Int64($0.firstPosition) })::bigint[], \(chunks.map { Int64($0.lastPosition) })::bigint[],
                        \(chunks.map { Int64($0.count) })::bigint[], \(chunks.map { ByteBuffer(bytes: $0.entries) })::bytea[])
                 AS t(status, chunk, first_position, last_position, count, entries)
            """, logger: logger)
    }

    /// Records the counts, and the name and campaign (which may follow the recipients), and lists
    /// the send; announces `send.blocked` when anyone was held back.
    public func completeSend(_ send: Send, in organization: OrganizationID) async throws -> Send {
        let date = configuration.now()
        let now = StoredCoding.milliseconds(date)
        let logger = self.logger
        return try await transaction { connection in
            let updated = try await connection.rows("""
                UPDATE sends SET total = \(Int64(send.counts.total)), allowed = \(Int64(send.counts.allowed)),
                    blocked = \(Int64(send.counts.blocked)), invalid = \(Int64(send.counts.invalid)), complete = true,
                    name = \(send.name), campaign = \(send.campaign)
                WHERE id = \(send.id.rawValue) AND org_id = \(organization.rawValue)
                RETURNING id
                """, logger: logger)
            guard updated.count == 1 else { throw HushError(.notFound, field: "id", "no send \(send.id) in this organization") }
            if let announced = WebhookRouting.announcement(of: send) {
                var outbox = PostgresOutbox(connection, logger: logger, organization: organization, now: date)
                try await outbox.enqueue([announced], addressIDs: [nil], now: now)
            }
            return send
        }
    }

    /// Removes a send whose request failed before it was complete.
    public func discardSend(_ id: SendID) async throws {
        let logger = self.logger
        try await transaction { connection in
            try await connection.rows("DELETE FROM send_reports WHERE send_id = \(id.rawValue)", logger: logger)
            try await connection.rows("DELETE FROM sends WHERE id = \(id.rawValue) AND NOT complete", logger: logger)
        }
    }

    /// Removes sends made before `cutoff`, and sends left incomplete (their request died with a
    /// server) since before `abandoned`, with their reports: one send per transaction.
    public func pruneSends(createdBefore cutoff: Date, incompleteBefore abandoned: Date) async throws -> Int {
        let logger = self.logger
        let ids = try await read { connection in
            var ids: [Int64] = []
            for try await id in try await connection.query("""
                SELECT id FROM sends
                WHERE created_at < \(StoredCoding.milliseconds(cutoff)) OR (NOT complete AND created_at < \(StoredCoding.milliseconds(abandoned)))
                ORDER BY id
                """, logger: logger).decode(Int64.self) {
                ids.append(id)
            }
            return ids
        }
        for id in ids {
            try await transaction { connection in
                try await connection.rows("DELETE FROM send_reports WHERE send_id = \(id)", logger: logger)
                try await connection.rows("DELETE FROM sends WHERE id = \(id)", logger: logger)
            }
        }
        return ids.count
    }

    public func sends(in organization: OrganizationID, after id: SendID, limit: Int) async throws -> [Send] {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("""
                SELECT \(unescaped: Self.sendColumns) FROM sends
                WHERE org_id = \(organization.rawValue) AND complete AND id > \(id.rawValue) ORDER BY id LIMIT \(Int64(limit))
                """, logger: logger).map(Self.send)
        }
    }

    public func send(_ id: SendID, in organization: OrganizationID) async throws -> Send? {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("""
                SELECT \(unescaped: Self.sendColumns) FROM sends WHERE org_id = \(organization.rawValue) AND complete AND id = \(id.rawValue)
                """, logger: logger).first.map(Self.send)
        }
    }

    /// The report's chunks of `status` that hold entries after position `after`, in order; at
    /// most `limit` chunks.
    public func reportChunks(
        of send: SendID, status: SendReportChunk.Status, after position: Int, limit: Int
    ) async throws -> [SendReportChunk] {
        let logger = self.logger
        return try await read { connection in
            var chunks: [SendReportChunk] = []
            for try await (chunk, first, last, count, entries) in try await connection.query("""
                SELECT chunk, first_position, last_position, count, entries FROM send_reports
                WHERE send_id = \(send.rawValue) AND status = \(status.rawValue) AND last_position > \(Int64(position))
                ORDER BY chunk LIMIT \(Int64(limit))
                """, logger: logger).decode((Int32, Int64, Int64, Int32, ByteBuffer).self) {
                chunks.append(SendReportChunk(
                    status: status, index: Int(chunk), firstPosition: Int(first), lastPosition: Int(last), count: Int(count),
                    entries: Array(buffer: entries)))
            }
            return chunks
        }
    }

    private static let sendColumns = "id, name, campaign, channel, scope, lists, total, allowed, blocked, invalid, actor, created_at"

    /// A send from the columns `sendColumns`.
    private static func send(_ row: PostgresRow) throws -> Send {
        let (id, name, campaign, channel, scope, lists, total, allowed, blocked, invalid, actor, createdAt) =
            try row.decode((Int64, String?, String?, String, String, String, Int64, Int64, Int64, Int64, String, Int64).self)
        return Send(
            id: SendID(rawValue: id), name: name, campaign: campaign, channel: try Channel(parsing: channel),
            scope: try StoredCoding.scope(scope),
            lists: lists.split(separator: ",").compactMap { Int64($0) }.map(ListID.init(rawValue:)),
            counts: Send.Counts(total: Int(total), allowed: Int(allowed), blocked: Int(blocked), invalid: Int(invalid)), actor: actor,
            createdAt: StoredCoding.date(createdAt))
    }

    // MARK: Rulesets

    public func createRuleset(_ ruleset: Ruleset, in organization: OrganizationID) async throws -> Ruleset {
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        return try await transaction { connection in
            _ = try await Self.requireOrganization(connection, organization, logger: logger)
            // Unique among active rulesets by the database (`rulesets_active_name`), not by a read first.
            guard let id = try await connection.value("""
                INSERT INTO rulesets (org_id, name, on_opt_out, opted_out_stage, created_at)
                VALUES (\(organization.rawValue), \(ruleset.name), \(ruleset.onOptOut.rawValue), \(ruleset.optedOutStage), \(now))
                ON CONFLICT (org_id, name) WHERE deleted_at IS NULL DO NOTHING
                RETURNING id
                """, as: Int64.self, logger: logger)
            else {
                throw Self.rulesetNameTaken(ruleset.name)
            }
            var stored = ruleset
            stored.id = RulesetID(rawValue: id)
            return stored
        }
    }

    public func rulesets(in organization: OrganizationID) async throws -> [Ruleset] {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("""
                SELECT \(unescaped: Self.rulesetColumns) FROM rulesets WHERE org_id = \(organization.rawValue) AND deleted_at IS NULL ORDER BY id
                """, logger: logger).map(Self.ruleset)
        }
    }

    public func ruleset(_ id: RulesetID, in organization: OrganizationID) async throws -> Ruleset? {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("""
                SELECT \(unescaped: Self.rulesetColumns) FROM rulesets
                WHERE org_id = \(organization.rawValue) AND id = \(id.rawValue) AND deleted_at IS NULL
                """, logger: logger).first.map(Self.ruleset)
        }
    }

    public func updateRuleset(_ ruleset: Ruleset, in organization: OrganizationID) async throws -> Ruleset {
        let logger = self.logger
        return try await transaction { connection in
            let updated: [PostgresRow]
            do {
                updated = try await connection.rows("""
                    UPDATE rulesets SET name = \(ruleset.name), on_opt_out = \(ruleset.onOptOut.rawValue),
                        opted_out_stage = \(ruleset.optedOutStage)
                    WHERE id = \(ruleset.id.rawValue) AND org_id = \(organization.rawValue) AND deleted_at IS NULL
                    RETURNING id
                    """, logger: logger)
            } catch let error where PostgresStore.isUniqueViolation(error, "rulesets_active_name") {
                // The statement failed, so the transaction rolls back: nothing carries on after it.
                throw Self.rulesetNameTaken(ruleset.name)
            }
            guard updated.count == 1 else { throw HushError(.notFound, field: "id", "no ruleset \(ruleset.id) in this organization") }
            return ruleset
        }
    }

    public func deleteRuleset(_ id: RulesetID, in organization: OrganizationID) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        return try await transaction { connection in
            try await Self.softDelete(from: "rulesets", id.rawValue, in: organization, at: now, connection, logger: logger)
        }
    }

    private static let rulesetColumns = "id, name, on_opt_out, opted_out_stage"

    /// A ruleset from the columns `rulesetColumns`.
    private static func ruleset(_ row: PostgresRow) throws -> Ruleset {
        let (id, name, onOptOut, optedOutStage) = try row.decode((Int64, String, String, String).self)
        guard let onOptOut = Ruleset.OnOptOut(rawValue: onOptOut) else {
            throw HushError(.storage, "a stored ruleset has an unknown on_opt_out")
        }
        return try Ruleset(id: RulesetID(rawValue: id), name: name, onOptOut: onOptOut, optedOutStage: optedOutStage)
    }

    private static func rulesetNameTaken(_ name: String) -> HushError {
        HushError(.conflict, field: "name", "a ruleset named \"\(name)\" already exists")
    }
}
