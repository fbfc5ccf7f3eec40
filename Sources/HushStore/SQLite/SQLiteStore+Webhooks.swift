import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    // MARK: Endpoints

    public func createWebhook(_ endpoint: WebhookEndpoint, in organization: OrganizationID) async throws -> WebhookEndpoint {
        let now = configuration.now()
        return try await storageErrors {
            try await pool.write { db in
                _ = try Self.requireOrganization(db, organization)
                try Self.requireLists(db, endpoint.lists ?? [], in: organization)
                try db.execute(sql: """
                    INSERT INTO webhook_endpoints (org_id, url, events, lists, enabled, secrets, owner_list, created_at)
                    VALUES (?, ?, ?, ?, ?, hush_seal(?), ?, ?)
                    """, arguments: [
                        organization.rawValue, endpoint.url, endpoint.events.joined(separator: ","), Self.lists(endpoint.lists),
                        endpoint.enabled, try StoredSecrets.encode(endpoint.secrets.map { .init(secret: $0.description, expiresAt: nil) }),
                        endpoint.ownerList?.rawValue, StoredCoding.milliseconds(now),
                    ])
                var stored = endpoint
                stored.id = WebhookID(db.lastInsertedRowID)
                return stored
            }
        }
    }

    public func webhooks(in organization: OrganizationID) async throws -> [WebhookEndpoint] {
        let now = configuration.now()
        return try await read { db in try Outbox.endpoints(db, of: organization, enabledOnly: false, now: now) }
    }

    public func webhook(_ id: WebhookID, in organization: OrganizationID) async throws -> WebhookEndpoint? {
        let now = configuration.now()
        return try await read { db in try Outbox.endpoints(db, of: organization, enabledOnly: false, id: id, now: now).first }
    }

    /// Changes the URL, events, lists and whether it is enabled; enabling it clears why it was
    /// disabled. A list's own endpoint keeps its events and list.
    public func updateWebhook(_ endpoint: WebhookEndpoint, in organization: OrganizationID) async throws -> WebhookEndpoint {
        try await storageErrors {
            try await pool.write { db in
                let existing = try self.requireEndpoint(db, endpoint.id, in: organization)
                try DirectoryRules.update(existing, to: endpoint)
                try Self.requireLists(db, endpoint.lists ?? [], in: organization)
                try db.execute(sql: """
                    UPDATE webhook_endpoints SET url = ?, events = ?, lists = ?, enabled = ?,
                        disabled_reason = CASE WHEN ? THEN NULL ELSE disabled_reason END
                    WHERE id = ?
                    """, arguments: [
                        endpoint.url, endpoint.events.joined(separator: ","), Self.lists(endpoint.lists), endpoint.enabled,
                        endpoint.enabled, endpoint.id,
                    ])
                return try self.requireEndpoint(db, endpoint.id, in: organization)
            }
        }
    }

    /// False when there was no such endpoint. Its pending deliveries are no longer sent.
    public func deleteWebhook(_ id: WebhookID, in organization: OrganizationID) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        return try await storageErrors {
            try await pool.write { db in
                try DirectoryRules.delete(endpointOwnedBy: Int64.fetchOne(db, sql: """
                    SELECT owner_list FROM webhook_endpoints WHERE id = ? AND org_id = ? AND deleted_at IS NULL
                    """, arguments: [id, organization.rawValue]).map(ListID.init(rawValue:)))
                try db.execute(sql: "UPDATE webhook_endpoints SET deleted_at = ? WHERE id = ? AND org_id = ? AND deleted_at IS NULL",
                               arguments: [now, id, organization.rawValue])
                return db.changesCount == 1
            }
        }
    }

    /// Makes `secret` the endpoint's signing secret. The one it replaces keeps being used beside
    /// it for `overlap`, so receivers can switch without missing a delivery.
    public func rotateWebhookSecret(
        _ id: WebhookID, to secret: WebhookSecret, overlap: Duration, in organization: OrganizationID
    ) async throws -> WebhookEndpoint {
        let now = configuration.now()
        let expiry = StoredCoding.milliseconds(now) + overlap.components.seconds * 1000
        return try await storageErrors {
            try await pool.write { db in
                let existing = try self.requireEndpoint(db, id, in: organization)
                var entries = [StoredSecrets.Entry(secret: secret.description, expiresAt: nil)]
                if overlap > .zero, let current = existing.secrets.first {
                    entries.append(.init(secret: current.description, expiresAt: expiry))
                }
                try db.execute(sql: "UPDATE webhook_endpoints SET secrets = hush_seal(?) WHERE id = ?",
                               arguments: [try StoredSecrets.encode(entries), id])
                return try self.requireEndpoint(db, id, in: organization)
            }
        }
    }

    // MARK: Deliveries

    public func deliveries(
        of endpoint: WebhookID, in organization: OrganizationID, status: WebhookDelivery.Status?, after: DeliveryID, limit: Int
    ) async throws -> [WebhookDelivery] {
        try await read { db in
            var sql = Self.deliverySelect + " WHERE w.org_id = ? AND d.endpoint_id = ? AND d.id > ?"
            var arguments: StatementArguments = [organization.rawValue, endpoint, after]
            if let status {
                sql += " AND d.status = ?"
                arguments += [status.rawValue]
            }
            sql += " ORDER BY d.id LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.delivery)
        }
    }

    public func delivery(_ id: DeliveryID, in organization: OrganizationID) async throws -> WebhookDelivery? {
        try await read { db in try Self.delivery(db, id, in: organization) }
    }

    /// Tries the delivery again now: a dead one gets one more attempt, a waiting one skips its
    /// wait. Nil when there is no such delivery; a succeeded one is left as it is.
    public func retryDelivery(_ id: DeliveryID, in organization: OrganizationID) async throws -> WebhookDelivery? {
        let now = StoredCoding.milliseconds(configuration.now())
        return try await storageErrors {
            try await pool.write { db in
                guard let delivery = try Self.delivery(db, id, in: organization) else { return nil }
                try DirectoryRules.retry(delivery)
                try db.execute(sql: """
                    UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, finished_at = NULL WHERE id = ?
                    """, arguments: [now, id])
                return try Self.delivery(db, id, in: organization)
            }
        }
    }

    /// Sends the endpoint every ledger event it wants from `sequence` on, again, under the
    /// same `webhook-id`s as before; at most `limit` events. Returns how many were queued and the
    /// sequence to continue from when the limit was reached.
    public func replay(_ endpointID: WebhookID, from sequence: Int64, limit: Int, in organization: OrganizationID) async throws -> (queued: Int, next: Int64?) {
        let now = StoredCoding.milliseconds(configuration.now())
        return try await storageErrors {
            try await pool.write { db in
                let endpoint = try self.requireEndpoint(db, endpointID, in: organization)
                let rows = try Row.fetchAll(db, sql: """
                    SELECT l.seq, l.kind, l.recorded_at, CASE WHEN a.erased_at IS NULL THEN a.key END, c.external_id,
                           l.channel, l.scope, l.list_id, l.source, l.actor, e.json, li.name, COALESCE(l.address_id, e.via_address_id), o.id, l.hold,
                           EXISTS (SELECT 1 FROM webhook_deliveries d
                                   WHERE d.outbox_id = o.id AND d.endpoint_id = ? AND d.status = 'pending') AS pending
                    FROM ledger l
                    JOIN lists li ON li.id = l.list_id
                    LEFT JOIN addresses a ON a.id = l.address_id
                    LEFT JOIN contacts c ON c.id = l.contact_id
                    LEFT JOIN evidence e ON e.event_seq = l.seq
                    LEFT JOIN webhook_outbox o ON o.ledger_seq = l.seq
                    WHERE l.org_id = ? AND l.seq >= ?
                    ORDER BY l.seq LIMIT ?
                    """, arguments: [endpointID, organization.rawValue, sequence, limit + 1])
                var deliveries: [(endpoint: WebhookID, event: Int64)] = []
                for row in rows.prefix(limit) {
                    let kind = EventKind(rawValue: row[1]) ?? .optOut
                    let list = ListID(rawValue: row[7])
                    guard endpoint.subscribes(to: kind == .optOut ? .optOutCreated : .optInCreated, list: list) else { continue }
                    if let existing: Int64 = row[13] {
                        // Already on its way to this endpoint: a replay does not send it twice.
                        if row[15] as Bool { continue }
                        deliveries.append((endpointID, existing))
                        continue
                    }
                    let address: String? = row[3]
                    let contact: String? = row[4]
                    let event = try LedgerEvent(
                        sequence: row[0], organization: organization, kind: kind, recordedAt: StoredCoding.date(row[2]),
                        subject: contact.map { .contact($0) } ?? .address(address ?? ""), channel: StoredCoding.channel(row[5]),
                        scope: StoredCoding.scope(row[6]), list: list, source: StoredCoding.source(row[8]), actor: row[9],
                        evidence: StoredCoding.evidence(row[10]), hold: row[14])
                    let announced = WebhookEvent(event, address: address, listName: row[11])
                    try db.execute(sql: """
                        INSERT INTO webhook_outbox (org_id, kind, ledger_seq, list_id, address_id, occurred_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [
                            organization.rawValue, announced.kind.rawValue, announced.sequence, list.rawValue, row[12] as Int64?,
                            row[2] as Int64, announced.data,
                        ])
                    deliveries.append((endpointID, db.lastInsertedRowID))
                }
                try Outbox.insertDeliveries(db, deliveries, now: now)
                return (deliveries.count, rows.count > limit ? rows[limit][0] : nil)
            }
        }
    }

    // MARK: Rows

    private static let deliverySelect = """
        SELECT d.id, d.endpoint_id, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, d.response_status, d.response_body,
               d.error, d.created_at, d.finished_at, o.id, o.kind, o.ledger_seq, o.occurred_at, o.list_id, o.data
        FROM webhook_deliveries d
        JOIN webhook_endpoints w ON w.id = d.endpoint_id
        JOIN webhook_outbox o ON o.id = d.outbox_id
        """

    static func delivery(_ db: Database, _ id: DeliveryID, in organization: OrganizationID) throws -> WebhookDelivery? {
        try Row.fetchOne(db, sql: deliverySelect + " WHERE d.id = ? AND w.org_id = ?", arguments: [id, organization.rawValue]).map(delivery)
    }

    static func delivery(_ row: Row) throws -> WebhookDelivery {
        let status = WebhookDelivery.Status(rawValue: row[2]) ?? .pending
        let lastAttempt: Int64? = row[5]
        let finished: Int64? = row[10]
        return WebhookDelivery(
            id: row[0], endpoint: row[1], event: try event(row, offset: 11), status: status, attempts: row[3],
            nextAttemptAt: status == .pending ? StoredCoding.date(row[4]) : nil, lastAttemptAt: lastAttempt.map(StoredCoding.date),
            responseStatus: row[6], responseBody: row[7], error: row[8], createdAt: StoredCoding.date(row[9]),
            finishedAt: finished.map(StoredCoding.date))
    }

    /// An outbox event from the columns `id, kind, ledger_seq, occurred_at, list_id, data`.
    static func event(_ row: Row, offset: Int) throws -> WebhookEvent {
        guard let kind = WebhookEvent.Kind(rawValue: row[offset + 1]) else {
            throw HushError(.storage, "the outbox holds an event of unknown kind \(row[offset + 1] as String)")
        }
        let list: Int64? = row[offset + 4]
        return WebhookEvent(
            id: row[offset], kind: kind, sequence: row[offset + 2], occurredAt: StoredCoding.date(row[offset + 3]),
            list: list.map(ListID.init(rawValue:)), data: row[offset + 5])
    }

    /// The organization's endpoint, or a 404.
    private func requireEndpoint(_ db: Database, _ id: WebhookID, in organization: OrganizationID) throws -> WebhookEndpoint {
        guard let endpoint = try Outbox.endpoints(db, of: organization, enabledOnly: false, id: id, now: configuration.now()).first else {
            throw HushError(.notFound, field: "id", "no webhook \(id) in this organization")
        }
        return endpoint
    }

    private static func lists(_ lists: [ListID]?) -> String? {
        lists.map { $0.map { String($0.rawValue) }.joined(separator: ",") }
    }

    private static func requireLists(_ db: Database, _ lists: [ListID], in organization: OrganizationID) throws {
        for (offset, list) in lists.enumerated() where try activeList(db, list, in: organization) == nil {
            throw HushError(.notFound, field: "lists[\(offset)]", "no list \(list) in this organization")
        }
    }
}
