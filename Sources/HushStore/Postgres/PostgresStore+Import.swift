import Foundation
import HushCore
import Logging
import PostgresNIO
import Synchronization

extension PostgresStore {
    /// Stages the opt-outs in `import_staged` (unlogged) in short transactions that take no
    /// lock, with their address rows, while `next` reads them and the rules plan each
    /// (`ImportPlanner`); then one transaction holding the append lock moves them in set-wise
    /// (`PostgresChangeTransaction.recordStaged`), so every node keeps appending until that commit. After it, this node's index reads what was
    /// written from the ledger, as the other nodes do. Staged rows are deleted with the commit,
    /// or when the import fails; a crashed importer's are deleted by the next import a day on.
    public func importOptOuts(
        in organization: OrganizationID, from next: @escaping @Sendable () throws -> [OptOut]?
    ) async throws -> ImportSummary {
        guard let found = try await self.organization(organization) else {
            throw HushError(.notFound, field: "organization", "no such organization")
        }
        let run = UUID().uuidString
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        var planner = ImportPlanner(organization: found, indexed: indexed)
        do {
            // The erasures' head before any address row is made: the commit makes and finds the
            // rows again when an erasure came since (it may have retired one) or a chunk's rows
            // were left unmade.
            let erasures = try await database.transaction { connection in
                try await connection.query("DELETE FROM import_staged WHERE staged_at < \(now - 86_400_000)", logger: logger)
                let rows = try await connection.rows("SELECT COALESCE(MAX(id), 0) FROM erasures", logger: logger)
                return try rows.first?.decode(Int64.self) ?? 0
            }
            let unmade = Mutex(false)
            let database = self.database
            try await planner.stageAll(from: next) { list in
                try await self.list(list, in: organization).map(ListFacts.init)
            } stage: { rows in
                try await database.transaction { connection in
                    _ = try await connection.query(Self.staging(rows, run: run, at: now), logger: logger)
                }
                // The chunk's address rows, made now rather than under the append lock, as large
                // batches make theirs (docs/architecture.md): in key order, giving up after 100 ms
                // on a row another transaction is making. Any left unmade the commit makes.
                do {
                    try await database.transaction { connection in
                        try await connection.query("SET LOCAL lock_timeout = '100ms'", logger: logger)
                        _ = try await connection.query(Self.addresses(rows, in: organization), logger: logger)
                    }
                } catch {
                    unmade.withLock { $0 = true }
                    logger.debug("an import's address rows are left to its commit", metadata: ["error": "\(error)"])
                }
            }
            let instance = database.instance
            let written = try await database.writeThenCatchUp { connection in
                var transaction = try await PostgresChangeTransaction(
                    connection, logger: logger, organization: organization, now: now, notifying: instance)
                let remake = unmade.withLock { $0 } || transaction.from.erasures != erasures
                return try await transaction.recordStaged(run, makingAddresses: remake)
            }
            return ImportSummary(items: planner.items, written: written, alreadyInForce: planner.items - written)
        } catch {
            _ = try? await database.transaction { connection in
                try await connection.query("DELETE FROM import_staged WHERE run = \(run)", logger: logger)
            }
            throw error
        }
    }

    /// One chunk's address rows, made when missing, in key order.
    private static func addresses(_ rows: [StagedRow], in organization: OrganizationID) -> PostgresQuery {
        let addresses = rows.filter { $0.kind != nil }
        return """
            INSERT INTO addresses (org_id, kind, key, display)
            SELECT \(organization.rawValue), ki, k, d
            FROM UNNEST(\(addresses.map { $0.kind ?? "" }), \(addresses.map(\.name)), \(addresses.map { $0.display ?? $0.name })) AS t(ki, k, d)
            ORDER BY k COLLATE "C"
            ON CONFLICT (org_id, key) WHERE erased_at IS NULL AND merged_into IS NULL DO NOTHING
            """
    }

    /// One chunk's rows into the staging table: arrays, one per column (`''` for none).
    private static func staging(_ rows: [StagedRow], run: String, at now: Int64) -> PostgresQuery {
        """
        INSERT INTO import_staged (run, staged_at, item, subject_key, kind, name, display, channel, list_id, scope, source, actor, evidence, counts)
        SELECT \(run), \(now), i, k, NULLIF(ki, ''), n, NULLIF(d, ''), ch, li, sc, so, ac, NULLIF(ev, ''), co
        FROM UNNEST(\(rows.map(\.item)), \(rows.map(\.subjectKey)), \(rows.map { $0.kind ?? "" }), \(rows.map(\.name)),
                    \(rows.map { $0.display ?? "" }), \(rows.map(\.channel)), \(rows.map(\.list)), \(rows.map(\.scope)),
                    \(rows.map(\.source)), \(rows.map(\.actor)), \(rows.map { $0.evidence ?? "" }), \(rows.map(\.counts)))
             AS t(i, k, ki, n, d, ch, li, sc, so, ac, ev, co)
        ON CONFLICT (run, subject_key, channel, list_id, scope) DO NOTHING
        """
    }
}
