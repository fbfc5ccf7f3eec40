import Foundation
import HushCore
import Logging
import PostgresNIO

extension PostgresStore {
    public func createConnector(_ connector: Connector, secret: String, in organization: OrganizationID) async throws -> Connector {
        let definition = try StoredConnector.encode(connector)
        let sealed = PostgresSecrets.seal(secret, with: configuration.secretKey)
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        return try await transaction { connection in
            try await Self.requireList(connector.list, in: organization, connection, logger: logger)
            guard let id = try await connection.value("""
                INSERT INTO connectors (org_id, name, definition, secret, created_at)
                VALUES (\(organization.rawValue), \(connector.name), \(definition), \(sealed), \(now)) RETURNING id
                """, as: Int64.self, logger: logger)
            else { throw HushError(.storage, "the connector was not written") }
            var stored = connector
            stored.id = ConnectorID(id)
            stored.organization = organization
            stored.createdAt = StoredCoding.date(now)
            return stored
        }
    }

    private static func requireList(_ list: ListID, in organization: OrganizationID, _ connection: PostgresConnection, logger: Logger) async throws {
        guard try await activeList(connection, list, in: organization, logger: logger) != nil else {
            throw HushError(.notFound, field: "list", "no list \(list) in this organization")
        }
    }

    public func connectors(in organization: OrganizationID) async throws -> [Connector] {
        let logger = self.logger
        return try await read { connection in
            try await Self.connectors(connection, "AND org_id = \(organization.rawValue)", logger: logger)
        }
    }

    public func allConnectors() async throws -> [Connector] {
        let logger = self.logger
        return try await read { connection in try await Self.connectors(connection, "", logger: logger) }
    }

    public func connector(_ id: ConnectorID, in organization: OrganizationID) async throws -> Connector? {
        let logger = self.logger
        return try await read { connection in
            try await Self.connectors(connection, "AND id = \(id.rawValue) AND org_id = \(organization.rawValue)", logger: logger).first
        }
    }

    private static func connectors(_ connection: PostgresConnection, _ condition: PostgresQuery, logger: Logger) async throws -> [Connector] {
        var connectors: [Connector] = []
        let query = PostgresQuery(
            unsafeSQL: "SELECT id, org_id, definition, created_at FROM connectors WHERE deleted_at IS NULL \(condition.sql) ORDER BY id",
            binds: condition.binds)
        for try await (id, organization, definition, createdAt) in try await connection.query(query, logger: logger)
            .decode((Int64, Int64, String, Int64).self) {
            connectors.append(try StoredConnector.decode(definition, id: id, organization: organization, createdAt: createdAt))
        }
        return connectors
    }

    public func updateConnector(_ connector: Connector, secret: String?, resetting: Bool, in organization: OrganizationID) async throws -> Connector {
        let definition = try StoredConnector.encode(connector)
        let sealed = secret.map { PostgresSecrets.seal($0, with: configuration.secretKey) }
        let logger = self.logger
        return try await transaction { connection in
            try await Self.requireList(connector.list, in: organization, connection, logger: logger)
            let updated = try await connection.rows("""
                UPDATE connectors SET name = \(connector.name), definition = \(definition), secret = COALESCE(\(sealed), secret)
                WHERE id = \(connector.id.rawValue) AND org_id = \(organization.rawValue) AND deleted_at IS NULL RETURNING id
                """, logger: logger)
            guard updated.count == 1, let stored = try await Self.connectors(
                connection, "AND id = \(connector.id.rawValue)", logger: logger).first
            else { throw HushError(.notFound, field: "id", "no connector \(connector.id) in this organization") }
            if resetting {
                let state = try await connection.value(
                    "SELECT state FROM connectors WHERE id = \(connector.id.rawValue) FOR UPDATE", as: String.self, logger: logger)
                try await connection.rows(
                    "UPDATE connectors SET state = \(try StoredCRM.reset(state)) WHERE id = \(connector.id.rawValue)", logger: logger)
            }
            return stored
        }
    }

    /// Deletes the connector and what it knew of CRM records; its reviews and opt-outs stay.
    public func deleteConnector(_ id: ConnectorID, in organization: OrganizationID) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        return try await transaction { connection in
            guard try await Self.softDelete(from: "connectors", id.rawValue, in: organization, at: now, connection, logger: logger)
            else { return false }
            try await connection.rows("DELETE FROM crm_records WHERE connector_id = \(id.rawValue)", logger: logger)
            try await connection.rows("DELETE FROM crm_record_addresses WHERE connector_id = \(id.rawValue)", logger: logger)
            try await connection.rows("DELETE FROM crm_log WHERE connector_id = \(id.rawValue)", logger: logger)
            return true
        }
    }

    public func connectorSecret(_ id: ConnectorID) async throws -> String? {
        let logger = self.logger
        let key = configuration.secretKey
        return try await read { connection in
            try await connection.value(
                "SELECT secret FROM connectors WHERE id = \(id.rawValue) AND deleted_at IS NULL", as: String.self, logger: logger
            ).map { try PostgresSecrets.open($0, with: key) }
        }
    }

    public func claimConnector(_ id: ConnectorID, owner: String, until: Date, now: Date) async throws -> Bool {
        let logger = self.logger
        return try await transaction { connection in
            try await connection.rows("""
                UPDATE connectors SET lease_owner = \(owner), lease_until = \(StoredCoding.milliseconds(until))
                WHERE id = \(id.rawValue) AND deleted_at IS NULL
                AND (lease_owner IS NULL OR lease_owner = \(owner) OR lease_until < \(StoredCoding.milliseconds(now)))
                RETURNING id
                """, logger: logger).count == 1
        }
    }

    public func releaseConnector(_ id: ConnectorID, owner: String) async throws {
        let logger = self.logger
        try await transaction { connection in
            try await connection.rows("""
                UPDATE connectors SET lease_owner = NULL, lease_until = NULL WHERE id = \(id.rawValue) AND lease_owner = \(owner)
                """, logger: logger)
        }
    }

    public var connectorLeaseOwner: String { node }

    public func releaseConnectorLeases(owner: String) async throws {
        let logger = self.logger
        try await transaction { connection in
            try await connection.rows("UPDATE connectors SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = \(owner)", logger: logger)
        }
    }

    public func connectorState(_ id: ConnectorID) async throws -> ConnectorState {
        let logger = self.logger
        return try await read { connection in
            try StoredCRM.state(try await connection.value("SELECT state FROM connectors WHERE id = \(id.rawValue)", as: String.self, logger: logger))
        }
    }

    public func saveSync(_ sync: ConnectorSync, of connector: Connector) async throws -> [CRMReview] {
        let now = configuration.now()
        let id = connector.id.rawValue
        let logger = self.logger
        return try await transaction { connection in
            if let owner = sync.leaseOwner, try await connection.rows(
                "SELECT id FROM connectors WHERE id = \(id) AND lease_owner = \(owner) AND deleted_at IS NULL FOR UPDATE", logger: logger).isEmpty {
                throw HushError(.conflict, "this run lost the connector's lease; another run holds it, or it was deleted")
            }
            try StoredCRM.requireNoResetSince(
                sync, stored: try await connection.value("SELECT state FROM connectors WHERE id = \(id)", as: String.self, logger: logger))
            if !sync.records.isEmpty {
                // A run that read a record before its address was erased keeps no erased address;
                // the rows stay locked until commit, so an erasure under way waits for this save
                // and then scrubs what it wrote.
                let carried = Array(Set(sync.records.flatMap(\.addresses)))
                var live = Set<String>()
                for row in try await connection.rows("""
                    SELECT key FROM addresses WHERE org_id = \(connector.organization.rawValue) AND key = ANY(\(carried)::text[])
                      AND erased_at IS NULL FOR SHARE
                    """, logger: logger) {
                    live.insert(try row.decode(String.self))
                }
                let records = sync.records.map { record in
                    var record = record
                    record.addresses = record.addresses.filter(live.contains)
                    return record
                }
                try await connection.rows("""
                    INSERT INTO crm_records (connector_id, entity, record_id, version, fields, addresses, deleted, linked, push_due_at, attempts, kept)
                    SELECT \(id), e, r, NULLIF(v, ''), f, a, d, l, NULLIF(p, -1), t, k
                    FROM UNNEST(\(records.map(\.key.entity))::text[], \(records.map(\.key.id))::text[],
                        \(records.map { $0.version ?? "" })::text[], \(try records.map { try StoredCRM.encode($0.fields) })::text[],
                        \(records.map { StoredCRM.encode($0.addresses) })::text[], \(records.map(\.deleted))::boolean[],
                        \(records.map(\.linked))::boolean[], \(records.map { $0.pushDueAt.map(StoredCoding.milliseconds) ?? -1 })::bigint[],
                        \(records.map { Int32($0.attempts) })::integer[], \(records.map { StoredCRM.encode(kept: $0.kept) })::text[])
                        AS u(e, r, v, f, a, d, l, p, t, k)
                    ON CONFLICT (connector_id, entity, record_id) DO UPDATE SET
                        version = excluded.version, fields = excluded.fields, addresses = excluded.addresses, deleted = excluded.deleted,
                        linked = excluded.linked, push_due_at = excluded.push_due_at, attempts = excluded.attempts, kept = excluded.kept
                    """, logger: logger)
                try await connection.rows("""
                    DELETE FROM crm_record_addresses WHERE connector_id = \(id)
                    AND (entity, record_id) IN (SELECT * FROM UNNEST(\(records.map(\.key.entity))::text[], \(records.map(\.key.id))::text[]))
                    """, logger: logger)
                let links = records.filter { !$0.deleted }.flatMap { record in Set(record.addresses).map { (record.key, $0) } }
                try await connection.rows("""
                    INSERT INTO crm_record_addresses (connector_id, address, entity, record_id)
                    SELECT \(id), * FROM UNNEST(\(links.map(\.1))::text[], \(links.map(\.0.entity))::text[], \(links.map(\.0.id))::text[])
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
            if let state = sync.state {
                try await connection.rows("UPDATE connectors SET state = \(try StoredCRM.encode(state)) WHERE id = \(id)", logger: logger)
            }
            if !sync.log.isEmpty {
                try await connection.rows("""
                    INSERT INTO crm_log (connector_id, at, kind, message)
                    SELECT \(id), * FROM UNNEST(\(sync.log.map { StoredCoding.milliseconds($0.at) })::bigint[],
                        \(sync.log.map(\.kind.rawValue))::text[], \(sync.log.map(\.message))::text[])
                    """, logger: logger)
                try await connection.rows("""
                    DELETE FROM crm_log WHERE connector_id = \(id) AND id <= (
                        SELECT id FROM crm_log WHERE connector_id = \(id) ORDER BY id DESC LIMIT 1 OFFSET \(ConnectorLogEntry.kept))
                    """, logger: logger)
            }
            var reviews: [CRMReview] = []
            for review in sync.reviews {
                guard let reviewID = try await connection.value("""
                    INSERT INTO crm_reviews (org_id, connector_id, entity, record_id, field, crm_user, changed_at, contact, status, reasserted, created_at)
                    VALUES (\(connector.organization.rawValue), \(id), \(review.record.entity), \(review.record.id), \(review.field),
                            \(review.crmUser), \(review.changedAt.map(StoredCoding.milliseconds)), \(review.contact.externalID),
                            \(review.status.rawValue), \(review.reasserted), \(StoredCoding.milliseconds(review.createdAt)))
                    RETURNING id
                    """, as: Int64.self, logger: logger)
                else { throw HushError(.storage, "the review was not written") }
                var stored = review
                stored.id = CRMReviewID(reviewID)
                reviews.append(stored)
            }
            if !sync.announcements.isEmpty {
                var outbox = PostgresOutbox(connection, logger: logger, organization: connector.organization, now: now)
                try await outbox.enqueue(sync.announcements, addressIDs: sync.announcements.map { _ in nil }, now: StoredCoding.milliseconds(now))
            }
            return reviews
        }
    }

    public func crmRecords(of connector: ConnectorID, keys: [CRMRecordKey]) async throws -> [CRMRecord] {
        let logger = self.logger
        return try await read { connection in
            try await Self.records(connection, """
                connector_id = \(connector.rawValue)
                AND (entity, record_id) IN (SELECT * FROM UNNEST(\(keys.map(\.entity))::text[], \(keys.map(\.id))::text[]))
                ORDER BY entity, record_id
                """, logger: logger)
        }
    }

    public func crmRecords(of connector: ConnectorID, addresses: [String]) async throws -> [CRMRecord] {
        let logger = self.logger
        return try await read { connection in
            try await Self.records(connection, """
                connector_id = \(connector.rawValue) AND NOT deleted AND (entity, record_id) IN (
                    SELECT entity, record_id FROM crm_record_addresses
                    WHERE connector_id = \(connector.rawValue) AND address = ANY(\(Array(Set(addresses)))::text[]))
                ORDER BY entity, record_id
                """, logger: logger)
        }
    }

    public func crmRecords(of connector: ConnectorID, after: CRMRecordKey?, limit: Int) async throws -> [CRMRecord] {
        let logger = self.logger
        return try await read { connection in
            try await Self.records(connection, """
                connector_id = \(connector.rawValue) AND (entity, record_id) > (\(after?.entity ?? ""), \(after?.id ?? ""))
                ORDER BY entity, record_id LIMIT \(limit)
                """, logger: logger)
        }
    }

    public func duePushes(of connector: ConnectorID, at now: Date, limit: Int) async throws -> [CRMRecord] {
        let logger = self.logger
        return try await read { connection in
            try await Self.records(connection, """
                connector_id = \(connector.rawValue) AND push_due_at IS NOT NULL AND push_due_at <= \(StoredCoding.milliseconds(now))
                ORDER BY push_due_at LIMIT \(limit)
                """, logger: logger)
        }
    }

    public func pendingPushes(of connector: ConnectorID) async throws -> Int {
        let logger = self.logger
        return try await read { connection in
            Int(try await connection.value("""
                SELECT COUNT(*) FROM crm_records WHERE connector_id = \(connector.rawValue) AND push_due_at IS NOT NULL
                """, as: Int64.self, logger: logger) ?? 0)
        }
    }

    private static func records(_ connection: PostgresConnection, _ condition: PostgresQuery, logger: Logger) async throws -> [CRMRecord] {
        var records: [CRMRecord] = []
        let query = PostgresQuery(unsafeSQL: "SELECT \(StoredCRM.recordColumns) FROM crm_records WHERE \(condition.sql)", binds: condition.binds)
        for try await row in try await connection.query(query, logger: logger) {
            let (entity, id, version, fields, addresses, deleted, linked, due, attempts, kept) = try row.decode(
                (String, String, String?, String, String, Bool, Bool, Int64?, Int32, String).self)
            records.append(try StoredCRM.record(
                entity: entity, id: id, version: version, fields: fields, addresses: addresses, deleted: deleted, linked: linked,
                pushDueAt: due, attempts: Int(attempts), kept: kept))
        }
        return records
    }

    public func connectorLog(of connector: ConnectorID, limit: Int) async throws -> [ConnectorLogEntry] {
        let logger = self.logger
        return try await read { connection in
            var entries: [ConnectorLogEntry] = []
            for try await (at, kind, message) in try await connection.query("""
                SELECT at, kind, message FROM crm_log WHERE connector_id = \(connector.rawValue) ORDER BY id DESC LIMIT \(limit)
                """, logger: logger).decode((Int64, String, String).self) {
                entries.append(ConnectorLogEntry(at: StoredCoding.date(at), kind: ConnectorLogEntry.Kind(rawValue: kind) ?? .error, message: message))
            }
            return entries
        }
    }

    public func crmReviews(in organization: OrganizationID, pendingOnly: Bool, after: CRMReviewID, limit: Int) async throws -> [CRMReview] {
        let logger = self.logger
        return try await read { connection in
            var reviews: [CRMReview] = []
            for try await row in try await connection.query("""
                SELECT id, connector_id, entity, record_id, field, crm_user, changed_at, contact, status, reasserted, created_at
                FROM crm_reviews WHERE org_id = \(organization.rawValue) AND id > \(after.rawValue)
                AND (status = 'pending' OR NOT \(pendingOnly)) ORDER BY id LIMIT \(limit)
                """, logger: logger) {
                let (id, connector, entity, record, field, user, changedAt, contact, status, reasserted, createdAt) = try row.decode(
                    (Int64, Int64, String, String, String, String?, Int64?, String, String, Bool, Int64).self)
                reviews.append(CRMReview(
                    id: CRMReviewID(id), connector: ConnectorID(connector), record: CRMRecordKey(entity: entity, id: record), field: field,
                    crmUser: user, changedAt: changedAt.map(StoredCoding.date), contact: try ContactID(parsing: contact),
                    status: CRMReview.Status(rawValue: status) ?? .pending, createdAt: StoredCoding.date(createdAt), reasserted: reasserted))
            }
            return reviews
        }
    }

    public func dismissCRMReview(_ id: CRMReviewID, in organization: OrganizationID) async throws -> Bool {
        let logger = self.logger
        return try await transaction { connection in
            try await connection.rows("""
                UPDATE crm_reviews SET status = 'dismissed' WHERE id = \(id.rawValue) AND org_id = \(organization.rawValue) AND status = 'pending'
                RETURNING id
                """, logger: logger).count == 1
        }
    }
}
