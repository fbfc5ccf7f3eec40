import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    public func createConnector(_ connector: Connector, secret: String, in organization: OrganizationID) async throws -> Connector {
        let definition = try StoredConnector.encode(connector)
        let now = StoredCoding.milliseconds(configuration.now())
        return try await storageErrors {
            try await pool.write { db in
                guard try SQLiteStore.activeList(db, connector.list, in: organization) != nil else {
                    throw HushError(.notFound, field: "list", "no list \(connector.list) in this organization")
                }
                try uniquely("connectors.org_id, connectors.name", else: Self.connectorNameTaken(connector.name)) {
                    try db.execute(sql: """
                        INSERT INTO connectors (org_id, name, definition, secret, created_at) VALUES (?, ?, ?, hush_seal(?), ?)
                        """, arguments: [organization.rawValue, connector.name, definition, secret, now])
                }
                var stored = connector
                stored.id = ConnectorID(db.lastInsertedRowID)
                stored.organization = organization
                stored.createdAt = StoredCoding.date(now)
                return stored
            }
        }
    }

    static func connectorNameTaken(_ name: String) -> HushError {
        HushError(.conflict, field: "name", "a connector named \"\(name)\" already exists")
    }

    public func connectors(in organization: OrganizationID) async throws -> [Connector] {
        try await read { db in try Self.connectors(db, "org_id = ?", [organization.rawValue]) }
    }

    public func allConnectors() async throws -> [Connector] {
        try await read { db in try Self.connectors(db, "1", []) }
    }

    public func connector(_ id: ConnectorID, in organization: OrganizationID) async throws -> Connector? {
        try await read { db in try Self.connectors(db, "id = ? AND org_id = ?", [id.rawValue, organization.rawValue]).first }
    }

    private static func connectors(_ db: Database, _ condition: String, _ arguments: StatementArguments) throws -> [Connector] {
        try Row.fetchAll(db, sql: """
            SELECT id, org_id, definition, created_at FROM connectors WHERE deleted_at IS NULL AND \(condition) ORDER BY id
            """, arguments: arguments).map { row in
            try StoredConnector.decode(row[2], id: row[0], organization: row[1], createdAt: row[3])
        }
    }

    public func updateConnector(_ connector: Connector, secret: String?, resetting: Bool, in organization: OrganizationID) async throws -> Connector {
        let definition = try StoredConnector.encode(connector)
        return try await storageErrors {
            try await pool.write { db in
                guard try SQLiteStore.activeList(db, connector.list, in: organization) != nil else {
                    throw HushError(.notFound, field: "list", "no list \(connector.list) in this organization")
                }
                try uniquely("connectors.org_id, connectors.name", else: Self.connectorNameTaken(connector.name)) {
                    try db.execute(sql: """
                        UPDATE connectors SET name = ?, definition = ?, secret = COALESCE(hush_seal(?), secret)
                        WHERE id = ? AND org_id = ? AND deleted_at IS NULL
                        """, arguments: [connector.name, definition, secret, connector.id.rawValue, organization.rawValue])
                }
                guard db.changesCount == 1, let stored = try Self.connectors(
                    db, "id = ? AND org_id = ?", [connector.id.rawValue, organization.rawValue]).first
                else { throw HushError(.notFound, field: "id", "no connector \(connector.id) in this organization") }
                if resetting {
                    let state = try String.fetchOne(db, sql: "SELECT state FROM connectors WHERE id = ?", arguments: [connector.id.rawValue])
                    try db.execute(sql: "UPDATE connectors SET state = ? WHERE id = ?", arguments: [try StoredCRM.reset(state), connector.id.rawValue])
                }
                return stored
            }
        }
    }

    /// Deletes the connector and what it knew of CRM records (their addresses among it); its
    /// review items and the opt-outs it recorded stay.
    public func deleteConnector(_ id: ConnectorID, in organization: OrganizationID) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        return try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "UPDATE connectors SET deleted_at = ? WHERE id = ? AND org_id = ? AND deleted_at IS NULL",
                               arguments: [now, id.rawValue, organization.rawValue])
                guard db.changesCount == 1 else { return false }
                for table in ["crm_records", "crm_record_addresses", "crm_log"] {
                    try db.execute(sql: "DELETE FROM \(table) WHERE connector_id = ?", arguments: [id.rawValue])
                }
                return true
            }
        }
    }

    public func connectorSecret(_ id: ConnectorID) async throws -> String? {
        try await read { db in
            try String.fetchOne(db, sql: "SELECT hush_open(secret) FROM connectors WHERE id = ? AND deleted_at IS NULL", arguments: [id.rawValue])
        }
    }

    public func claimConnector(_ id: ConnectorID, owner: String, until: Date, now: Date) async throws -> Bool {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: """
                    UPDATE connectors SET lease_owner = ?, lease_until = ?
                    WHERE id = ? AND deleted_at IS NULL AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?)
                    """, arguments: [owner, StoredCoding.milliseconds(until), id.rawValue, owner, StoredCoding.milliseconds(now)])
                return db.changesCount == 1
            }
        }
    }

    public func releaseConnector(_ id: ConnectorID, owner: String) async throws {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "UPDATE connectors SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
                               arguments: [id.rawValue, owner])
            }
        }
    }

    public var connectorLeaseOwner: String { "server" }

    public func releaseConnectorLeases(owner: String) async throws {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "UPDATE connectors SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", arguments: [owner])
            }
        }
    }

    public func connectorState(_ id: ConnectorID) async throws -> ConnectorState {
        try await read { db in
            try StoredCRM.state(try String.fetchOne(db, sql: "SELECT state FROM connectors WHERE id = ?", arguments: [id.rawValue]))
        }
    }

    public func saveSync(_ sync: ConnectorSync, of connector: Connector) async throws -> [CRMReview] {
        let now = configuration.now()
        let id = connector.id.rawValue
        return try await storageErrors {
            try await pool.write { db in
                if let owner = sync.leaseOwner, try Int64.fetchOne(
                    db, sql: "SELECT id FROM connectors WHERE id = ? AND lease_owner = ? AND deleted_at IS NULL", arguments: [id, owner]) == nil {
                    throw HushError(.conflict, "this run lost the connector's lease; another run holds it, or it was deleted")
                }
                try StoredCRM.requireNoResetSince(
                    sync, stored: try String.fetchOne(db, sql: "SELECT state FROM connectors WHERE id = ?", arguments: [id]))
                // A run that read a record before its address was erased keeps no erased address.
                let carried = Set(sync.records.flatMap(\.addresses))
                let live = carried.isEmpty ? [] : Set(try String.fetchAll(db, sql: """
                    SELECT key FROM addresses WHERE org_id = ? AND key IN (SELECT value FROM json_each(?)) AND erased_at IS NULL
                    """, arguments: [connector.organization.rawValue, String(decoding: try JSONEncoder().encode(Array(carried)), as: UTF8.self)]))
                for var record in sync.records {
                    record.addresses = record.addresses.filter(live.contains)
                    try db.cachedStatement(sql: """
                        INSERT INTO crm_records (connector_id, entity, record_id, version, fields, addresses, deleted, linked, push_due_at, attempts, kept)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (connector_id, entity, record_id) DO UPDATE SET
                            version = excluded.version, fields = excluded.fields, addresses = excluded.addresses, deleted = excluded.deleted,
                            linked = excluded.linked, push_due_at = excluded.push_due_at, attempts = excluded.attempts, kept = excluded.kept
                        """).execute(arguments: [
                            id, record.key.entity, record.key.id, record.version, try StoredCRM.encode(record.fields),
                            StoredCRM.encode(record.addresses), record.deleted, record.linked,
                            record.pushDueAt.map(StoredCoding.milliseconds), record.attempts, StoredCRM.encode(kept: record.kept),
                        ])
                    try db.cachedStatement(sql: "DELETE FROM crm_record_addresses WHERE connector_id = ? AND entity = ? AND record_id = ?")
                        .execute(arguments: [id, record.key.entity, record.key.id])
                    guard !record.deleted else { continue }
                    for address in Set(record.addresses) {
                        try db.cachedStatement(sql: """
                            INSERT INTO crm_record_addresses (connector_id, address, entity, record_id) VALUES (?, ?, ?, ?)
                            """).execute(arguments: [id, address, record.key.entity, record.key.id])
                    }
                }
                if let state = sync.state {
                    try db.execute(sql: "UPDATE connectors SET state = ? WHERE id = ?", arguments: [try StoredCRM.encode(state), id])
                }
                for entry in sync.log {
                    try db.execute(sql: "INSERT INTO crm_log (connector_id, at, kind, message) VALUES (?, ?, ?, ?)",
                                   arguments: [id, StoredCoding.milliseconds(entry.at), entry.kind.rawValue, entry.message])
                }
                if !sync.log.isEmpty {
                    try db.execute(sql: """
                        DELETE FROM crm_log WHERE connector_id = ? AND id <= (
                            SELECT id FROM crm_log WHERE connector_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)
                        """, arguments: [id, id, ConnectorLogEntry.kept])
                }
                var reviews: [CRMReview] = []
                for review in sync.reviews {
                    try db.execute(sql: """
                        INSERT INTO crm_reviews (org_id, connector_id, entity, record_id, field, crm_user, changed_at, contact, status, reasserted, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [
                            connector.organization.rawValue, id, review.record.entity, review.record.id, review.field, review.crmUser,
                            review.changedAt.map(StoredCoding.milliseconds), review.contact.externalID, review.status.rawValue,
                            review.reasserted, StoredCoding.milliseconds(review.createdAt),
                        ])
                    var stored = review
                    stored.id = CRMReviewID(db.lastInsertedRowID)
                    reviews.append(stored)
                }
                if !sync.announcements.isEmpty {
                    var outbox = Outbox(db, organization: connector.organization, now: now)
                    try outbox.enqueue(sync.announcements, addressIDs: sync.announcements.map { _ in nil }, now: StoredCoding.milliseconds(now))
                }
                return reviews
            }
        }
    }

    public func crmRecords(of connector: ConnectorID, keys: [CRMRecordKey]) async throws -> [CRMRecord] {
        try await read { db in
            try keys.compactMap { key in
                try Self.records(db, "connector_id = ? AND entity = ? AND record_id = ?", [connector.rawValue, key.entity, key.id]).first
            }
        }
    }

    public func crmRecords(of connector: ConnectorID, addresses: [String]) async throws -> [CRMRecord] {
        try await read { db in
            var keys = Set<CRMRecordKey>()
            for address in Set(addresses) {
                for row in try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT entity, record_id FROM crm_record_addresses WHERE connector_id = ? AND address = ?
                    """), arguments: [connector.rawValue, address]) {
                    keys.insert(CRMRecordKey(entity: row[0], id: row[1]))
                }
            }
            return try keys.sorted().compactMap { key in
                try Self.records(db, "connector_id = ? AND entity = ? AND record_id = ? AND deleted = 0",
                                 [connector.rawValue, key.entity, key.id]).first
            }
        }
    }

    public func crmRecords(of connector: ConnectorID, after: CRMRecordKey?, limit: Int) async throws -> [CRMRecord] {
        try await read { db in
            try Self.records(db, "connector_id = ? AND (entity, record_id) > (?, ?) ORDER BY entity, record_id LIMIT ?", [
                connector.rawValue, after?.entity ?? "", after?.id ?? "", limit,
            ])
        }
    }

    public func duePushes(of connector: ConnectorID, at now: Date, limit: Int) async throws -> [CRMRecord] {
        try await read { db in
            try Self.records(db, "connector_id = ? AND push_due_at IS NOT NULL AND push_due_at <= ? ORDER BY push_due_at LIMIT ?", [
                connector.rawValue, StoredCoding.milliseconds(now), limit,
            ])
        }
    }

    public func pendingPushes(of connector: ConnectorID) async throws -> Int {
        try await read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM crm_records WHERE connector_id = ? AND push_due_at IS NOT NULL",
                             arguments: [connector.rawValue]) ?? 0
        }
    }

    private static func records(_ db: Database, _ condition: String, _ arguments: StatementArguments) throws -> [CRMRecord] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT \(StoredCRM.recordColumns) FROM crm_records WHERE \(condition)"), arguments: arguments).map { row in
            try StoredCRM.record(
                entity: row[0], id: row[1], version: row[2], fields: row[3], addresses: row[4], deleted: row[5], linked: row[6],
                pushDueAt: row[7], attempts: row[8], kept: row[9])
        }
    }

    public func connectorLog(of connector: ConnectorID, limit: Int) async throws -> [ConnectorLogEntry] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT at, kind, message FROM crm_log WHERE connector_id = ? ORDER BY id DESC LIMIT ?",
                             arguments: [connector.rawValue, limit]).map { row in
                ConnectorLogEntry(at: StoredCoding.date(row[0]), kind: ConnectorLogEntry.Kind(rawValue: row[1]) ?? .error, message: row[2])
            }
        }
    }

    public func crmReviews(in organization: OrganizationID, pendingOnly: Bool, after: CRMReviewID, limit: Int) async throws -> [CRMReview] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, connector_id, entity, record_id, field, crm_user, changed_at, contact, status, reasserted, created_at
                FROM crm_reviews WHERE org_id = ? AND id > ? \(pendingOnly ? "AND status = 'pending'" : "") ORDER BY id LIMIT ?
                """, arguments: [organization.rawValue, after.rawValue, limit]).map { row in
                let changedAt: Int64? = row[6]
                return CRMReview(
                    id: CRMReviewID(row[0] as Int64), connector: ConnectorID(row[1] as Int64), record: CRMRecordKey(entity: row[2], id: row[3]),
                    field: row[4], crmUser: row[5], changedAt: changedAt.map(StoredCoding.date), contact: try ContactID(parsing: row[7]),
                    status: CRMReview.Status(rawValue: row[8]) ?? .pending, createdAt: StoredCoding.date(row[10]), reasserted: row[9])
            }
        }
    }

    public func dismissCRMReview(_ id: CRMReviewID, in organization: OrganizationID) async throws -> Bool {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "UPDATE crm_reviews SET status = 'dismissed' WHERE id = ? AND org_id = ? AND status = 'pending'",
                               arguments: [id.rawValue, organization.rawValue])
                return db.changesCount == 1
            }
        }
    }
}
