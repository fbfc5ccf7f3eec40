import Foundation
import HushCore
import Logging
import PostgresNIO

extension PostgresStore {
    // MARK: Endpoints

    public func createWebhook(_ endpoint: WebhookEndpoint, in organization: OrganizationID) async throws -> WebhookEndpoint {
        let now = StoredCoding.milliseconds(configuration.now())
        let key = configuration.secretKey
        let logger = self.logger
        return try await transaction { connection in
            _ = try await Self.requireOrganization(connection, organization, logger: logger)
            try await Self.requireLists(connection, endpoint.lists ?? [], in: organization, logger: logger)
            let secrets = try PostgresSecrets.seal(
                StoredSecrets.encode(endpoint.secrets.map { .init(secret: $0.description, expiresAt: nil) }), with: key)
            guard let id = try await connection.value("""
                INSERT INTO webhook_endpoints (org_id, url, events, lists, enabled, secrets, owner_list, created_at)
                VALUES (\(organization.rawValue), \(endpoint.url), \(endpoint.events.joined(separator: ",")),
                        \(Self.storedLists(endpoint.lists)), \(endpoint.enabled), \(secrets), \(endpoint.ownerList?.rawValue), \(now))
                RETURNING id
                """, as: Int64.self, logger: logger)
            else { throw HushError(.storage, "the webhook endpoint was not written") }
            var stored = endpoint
            stored.id = WebhookID(rawValue: id)
            return stored
        }
    }

    public func webhooks(in organization: OrganizationID) async throws -> [WebhookEndpoint] {
        let now = configuration.now()
        let key = configuration.secretKey
        let logger = self.logger
        return try await read { connection in
            try await PostgresOutbox.endpoints(connection, logger: logger, of: organization, enabledOnly: false, secrets: key, now: now)
        }
    }

    public func webhook(_ id: WebhookID, in organization: OrganizationID) async throws -> WebhookEndpoint? {
        let now = configuration.now()
        let key = configuration.secretKey
        let logger = self.logger
        return try await read { connection in
            try await Self.endpoint(connection, id, in: organization, secrets: key, now: now, logger: logger)
        }
    }

    /// Changes the URL, events, lists and whether it is enabled; enabling it clears why it was
    /// disabled. A list's own endpoint keeps its events and list.
    public func updateWebhook(_ endpoint: WebhookEndpoint, in organization: OrganizationID) async throws -> WebhookEndpoint {
        let now = configuration.now()
        let key = configuration.secretKey
        let logger = self.logger
        return try await transaction { connection in
            let existing = try await Self.requireEndpoint(connection, endpoint.id, in: organization, secrets: key, now: now, logger: logger)
            try DirectoryRules.update(existing, to: endpoint)
            try await Self.requireLists(connection, endpoint.lists ?? [], in: organization, logger: logger)
            try await connection.rows("""
                UPDATE webhook_endpoints SET url = \(endpoint.url), events = \(endpoint.events.joined(separator: ",")),
                    lists = \(Self.storedLists(endpoint.lists)), enabled = \(endpoint.enabled),
                    disabled_reason = CASE WHEN \(endpoint.enabled) THEN NULL ELSE disabled_reason END
                WHERE id = \(endpoint.id.rawValue)
                """, logger: logger)
            return try await Self.requireEndpoint(connection, endpoint.id, in: organization, secrets: key, now: now, logger: logger)
        }
    }

    /// False when there was no such endpoint. Its pending deliveries are no longer sent.
    public func deleteWebhook(_ id: WebhookID, in organization: OrganizationID) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        return try await transaction { connection in
            let owner = try await connection.value("""
                SELECT owner_list FROM webhook_endpoints WHERE id = \(id.rawValue) AND org_id = \(organization.rawValue) AND deleted_at IS NULL
                """, as: Int64.self, logger: logger)
            try DirectoryRules.delete(endpointOwnedBy: owner.map(ListID.init(rawValue:)))
            let deleted = try await connection.rows("""
                UPDATE webhook_endpoints SET deleted_at = \(now)
                WHERE id = \(id.rawValue) AND org_id = \(organization.rawValue) AND deleted_at IS NULL
                RETURNING id
                """, logger: logger)
            return deleted.count == 1
        }
    }

    /// Makes `secret` the endpoint's signing secret. The one it replaces keeps being used beside
    /// it for `overlap`, so receivers can switch without missing a delivery. The endpoint's row is
    /// locked first, so two rotations at once keep the secret the later one replaces.
    public func rotateWebhookSecret(
        _ id: WebhookID, to secret: WebhookSecret, overlap: Duration, in organization: OrganizationID
    ) async throws -> WebhookEndpoint {
        let now = configuration.now()
        let expiry = StoredCoding.milliseconds(now) + overlap.components.seconds * 1000
        let key = configuration.secretKey
        let logger = self.logger
        return try await transaction { connection in
            try await Self.lockEndpoint(connection, id, in: organization, logger: logger)
            let existing = try await Self.requireEndpoint(connection, id, in: organization, secrets: key, now: now, logger: logger)
            var entries = [StoredSecrets.Entry(secret: secret.description, expiresAt: nil)]
            if overlap > .zero, let current = existing.secrets.first {
                entries.append(.init(secret: current.description, expiresAt: expiry))
            }
            let sealed = try PostgresSecrets.seal(StoredSecrets.encode(entries), with: key)
            try await connection.rows("UPDATE webhook_endpoints SET secrets = \(sealed) WHERE id = \(id.rawValue)", logger: logger)
            return try await Self.requireEndpoint(connection, id, in: organization, secrets: key, now: now, logger: logger)
        }
    }

    // MARK: Deliveries

    public func deliveries(
        of endpoint: WebhookID, in organization: OrganizationID, status: WebhookDelivery.Status?, after: DeliveryID, limit: Int
    ) async throws -> [WebhookDelivery] {
        let statusName = status?.rawValue ?? ""
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("""
                \(unescaped: Self.deliverySelect)
                WHERE w.org_id = \(organization.rawValue) AND d.endpoint_id = \(endpoint.rawValue) AND d.id > \(after.rawValue)
                  AND (\(statusName) = '' OR d.status = \(statusName))
                ORDER BY d.id LIMIT \(Int64(limit))
                """, logger: logger).map(Self.delivery(from:))
        }
    }

    public func delivery(_ id: DeliveryID, in organization: OrganizationID) async throws -> WebhookDelivery? {
        let logger = self.logger
        return try await read { try await Self.storedDelivery($0, id, in: organization, logger: logger) }
    }

    /// Tries the delivery again now: a dead one gets one more attempt, a waiting one skips its
    /// wait. Nil when there is no such delivery; a succeeded one is left as it is. The row is
    /// locked while it is judged, so an attempt recorded meanwhile is not undone.
    public func retryDelivery(_ id: DeliveryID, in organization: OrganizationID) async throws -> WebhookDelivery? {
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        return try await transaction { connection in
            guard let row = try await connection.rows("""
                \(unescaped: Self.deliverySelect) WHERE d.id = \(id.rawValue) AND w.org_id = \(organization.rawValue) FOR UPDATE OF d
                """, logger: logger).first
            else { return nil }
            try DirectoryRules.retry(try Self.delivery(from: row))
            try await connection.rows("""
                UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = \(now), finished_at = NULL WHERE id = \(id.rawValue)
                """, logger: logger)
            return try await Self.storedDelivery(connection, id, in: organization, logger: logger)
        }
    }

    /// Sends the endpoint every ledger event it wants from `sequence` on, again, under the
    /// same `webhook-id`s as before; at most `limit` events. Returns how many were queued and the
    /// sequence to continue from when the limit was reached.
    ///
    /// The endpoint's row is locked, so two replays to it do not both queue an event; the prune
    /// lock is held shared, so no node prunes an announced event this replay reuses. Events no
    /// longer in the outbox are announced again in one statement; one a concurrent replay (to
    /// another endpoint) announced first is reused.
    public func replay(_ endpointID: WebhookID, from sequence: Int64, limit: Int, in organization: OrganizationID) async throws -> (queued: Int, next: Int64?) {
        let now = configuration.now()
        let logger = self.logger
        return try await transaction { connection in
            try await connection.rows("SELECT pg_advisory_xact_lock_shared(\(PostgresSchema.pruneLock))", logger: logger)
            try await Self.lockEndpoint(connection, endpointID, in: organization, logger: logger)
            let endpoint = try await Self.requireEndpoint(connection, endpointID, in: organization, secrets: nil, now: now, logger: logger)
            // Each event to send, in ledger order: its outbox row, or its sequence when it is announced anew.
            var queue: [(outboxID: Int64?, sequence: Int64)] = []
            var announced: [(event: WebhookEvent, addressID: Int64?, occurredAt: Int64)] = []
            var seen = 0
            var next: Int64?
            let rows = try await connection.query("""
                SELECT l.seq, l.kind, l.recorded_at, CASE WHEN a.erased_at IS NULL THEN a.key END, c.external_id,
                       l.channel, l.scope, l.list_id, l.source, l.actor, e.json, li.name, COALESCE(l.address_id, e.via_address_id), o.id, l.hold,
                       EXISTS (SELECT 1 FROM webhook_deliveries d
                               WHERE d.outbox_id = o.id AND d.endpoint_id = \(endpointID.rawValue) AND d.status = 'pending') AS pending
                FROM ledger l
                JOIN lists li ON li.id = l.list_id
                LEFT JOIN addresses a ON a.id = l.address_id
                LEFT JOIN contacts c ON c.id = l.contact_id
                LEFT JOIN evidence e ON e.event_seq = l.seq
                LEFT JOIN webhook_outbox o ON o.ledger_seq = l.seq
                WHERE l.org_id = \(organization.rawValue) AND l.seq >= \(sequence)
                ORDER BY l.seq LIMIT \(Int64(limit) + 1)
                """, logger: logger)
            for try await row in rows {
                let (seq, kindName, recordedAt, address, contact, channel, scope, listID, source, actor, evidence, listName,
                     addressID, outboxID, hold, pending) = try row.decode(
                        (Int64, String, Int64, String?, String?, String, String, Int64, String, String, String?, String,
                         Int64?, Int64?, Bool, Bool).self)
                seen += 1
                if seen > limit {
                    next = seq
                    continue
                }
                let kind = EventKind(rawValue: kindName) ?? .optOut
                let list = ListID(rawValue: listID)
                guard endpoint.subscribes(to: kind == .optOut ? .optOutCreated : .optInCreated, list: list) else { continue }
                if let outboxID {
                    // Already on its way to this endpoint: a replay does not send it twice.
                    if pending { continue }
                    queue.append((outboxID, seq))
                    continue
                }
                let event = try LedgerEvent(
                    sequence: seq, organization: organization, kind: kind, recordedAt: StoredCoding.date(recordedAt),
                    subject: contact.map { .contact($0) } ?? .address(address ?? ""), channel: StoredCoding.channel(channel),
                    scope: StoredCoding.scope(scope), list: list, source: StoredCoding.source(source), actor: actor,
                    evidence: StoredCoding.evidence(evidence), hold: hold)
                announced.append((WebhookEvent(event, address: address, listName: listName), addressID, recordedAt))
                queue.append((nil, seq))
            }
            let outboxIDs = try await Self.announce(connection, announced, in: organization, logger: logger)
            let deliveries = try queue.map { entry -> (endpoint: WebhookID, event: Int64) in
                guard let id = entry.outboxID ?? outboxIDs[entry.sequence] else {
                    throw HushError(.storage, "the replayed event \(entry.sequence) was not written to the outbox")
                }
                return (endpointID, id)
            }
            try await PostgresOutbox.insertDeliveries(connection, logger: logger, deliveries, now: StoredCoding.milliseconds(now))
            return (deliveries.count, next)
        }
    }

    /// Writes replayed ledger events to the outbox, in order; returns each one's outbox row by
    /// sequence, the existing row when another transaction announced the event first.
    private static func announce(
        _ connection: PostgresConnection, _ events: [(event: WebhookEvent, addressID: Int64?, occurredAt: Int64)],
        in organization: OrganizationID, logger: Logger
    ) async throws -> [Int64: Int64] {
        guard !events.isEmpty else { return [:] }
        var ids: [Int64: Int64] = [:]
        let sequences = events.map { $0.event.sequence ?? 0 }
        for try await (sequence, id) in try await connection.query("""
            INSERT INTO webhook_outbox (org_id, kind, ledger_seq, list_id, address_id, occurred_at, data)
            SELECT \(organization.rawValue), kind, seq, NULLIF(list, 0), NULLIF(address, 0), at, data
            FROM UNNEST(\(events.map(\.event.kind.rawValue))::text[], \(sequences)::bigint[],
                        \(events.map { $0.event.list?.rawValue ?? 0 })::bigint[], \(events.map { $0.addressID ?? 0 })::bigint[],
                        \(events.map(\.occurredAt))::bigint[], \(events.map(\.event.data))::text[])
                 WITH ORDINALITY AS t(kind, seq, list, address, at, data, n)
            ORDER BY n
            ON CONFLICT (ledger_seq) WHERE ledger_seq IS NOT NULL DO NOTHING
            RETURNING ledger_seq, id
            """, logger: logger).decode((Int64, Int64).self) {
            ids[sequence] = id
        }
        let missing = sequences.filter { ids[$0] == nil }
        if !missing.isEmpty {
            for try await (sequence, id) in try await connection.query("""
                SELECT ledger_seq, id FROM webhook_outbox WHERE ledger_seq = ANY(\(missing)::bigint[])
                """, logger: logger).decode((Int64, Int64).self) {
                ids[sequence] = id
            }
        }
        return ids
    }

    // MARK: Rows

    private static let deliverySelect = """
        SELECT d.id, d.endpoint_id, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, d.response_status, d.response_body,
               d.error, d.created_at, d.finished_at, o.id, o.kind, o.ledger_seq, o.occurred_at, o.list_id, o.data
        FROM webhook_deliveries d
        JOIN webhook_endpoints w ON w.id = d.endpoint_id
        JOIN webhook_outbox o ON o.id = d.outbox_id
        """

    private static func storedDelivery(
        _ connection: PostgresConnection, _ id: DeliveryID, in organization: OrganizationID, logger: Logger
    ) async throws -> WebhookDelivery? {
        try await connection.rows("""
            \(unescaped: deliverySelect) WHERE d.id = \(id.rawValue) AND w.org_id = \(organization.rawValue)
            """, logger: logger).first.map(delivery(from:))
    }

    /// A delivery from `deliverySelect`'s columns.
    private static func delivery(from row: PostgresRow) throws -> WebhookDelivery {
        let (id, endpoint, storedStatus, attempts, nextAttempt, lastAttempt, responseStatus, responseBody, failure, created, finished,
             eventID, kind, sequence, occurredAt, list, data) = try row.decode(
                (Int64, Int64, String, Int, Int64, Int64?, Int?, String?, String?, Int64, Int64?,
                 Int64, String, Int64?, Int64, Int64?, String).self)
        let status = WebhookDelivery.Status(rawValue: storedStatus) ?? .pending
        return WebhookDelivery(
            id: DeliveryID(rawValue: id), endpoint: WebhookID(rawValue: endpoint),
            event: try outboxEvent(id: eventID, kind: kind, sequence: sequence, occurredAt: occurredAt, list: list, data: data),
            status: status, attempts: attempts, nextAttemptAt: status == .pending ? StoredCoding.date(nextAttempt) : nil,
            lastAttemptAt: lastAttempt.map(StoredCoding.date), responseStatus: responseStatus, responseBody: responseBody,
            error: failure, createdAt: StoredCoding.date(created), finishedAt: finished.map(StoredCoding.date))
    }

    /// An outbox event from its columns `id, kind, ledger_seq, occurred_at, list_id, data`.
    static func outboxEvent(id: Int64, kind storedKind: String, sequence: Int64?, occurredAt: Int64, list: Int64?, data: String) throws -> WebhookEvent {
        guard let kind = WebhookEvent.Kind(rawValue: storedKind) else {
            throw HushError(.storage, "the outbox holds an event of unknown kind \(storedKind)")
        }
        return WebhookEvent(
            id: id, kind: kind, sequence: sequence, occurredAt: StoredCoding.date(occurredAt),
            list: list.map(ListID.init(rawValue:)), data: data)
    }

    /// The organization's endpoint, if it has one by that id.
    private static func endpoint(
        _ connection: PostgresConnection, _ id: WebhookID, in organization: OrganizationID, secrets key: SecretKey?, now: Date,
        logger: Logger
    ) async throws -> WebhookEndpoint? {
        // Matched again here: `PostgresOutbox.endpoints` reads an id of 0 as "any endpoint".
        try await PostgresOutbox.endpoints(connection, logger: logger, of: organization, enabledOnly: false, id: id, secrets: key, now: now)
            .first { $0.id == id }
    }

    /// The organization's endpoint, or a 404.
    private static func requireEndpoint(
        _ connection: PostgresConnection, _ id: WebhookID, in organization: OrganizationID, secrets key: SecretKey?, now: Date,
        logger: Logger
    ) async throws -> WebhookEndpoint {
        guard let endpoint = try await Self.endpoint(connection, id, in: organization, secrets: key, now: now, logger: logger) else {
            throw HushError(.notFound, field: "id", "no webhook \(id) in this organization")
        }
        return endpoint
    }

    /// Locks the endpoint's row until the transaction ends (nothing when there is no such row).
    private static func lockEndpoint(_ connection: PostgresConnection, _ id: WebhookID, in organization: OrganizationID, logger: Logger) async throws {
        try await connection.rows("""
            SELECT id FROM webhook_endpoints WHERE id = \(id.rawValue) AND org_id = \(organization.rawValue) FOR UPDATE
            """, logger: logger)
    }

    private static func storedLists(_ lists: [ListID]?) -> String? {
        lists.map { $0.map { String($0.rawValue) }.joined(separator: ",") }
    }

    /// Every list must be one of the organization's; the first that is not is named.
    private static func requireLists(_ connection: PostgresConnection, _ lists: [ListID], in organization: OrganizationID, logger: Logger) async throws {
        guard !lists.isEmpty else { return }
        var active = Set<Int64>()
        for try await id in try await connection.query("""
            SELECT id FROM lists WHERE org_id = \(organization.rawValue) AND deleted_at IS NULL AND id = ANY(\(lists.map(\.rawValue))::bigint[])
            """, logger: logger).decode(Int64.self) {
            active.insert(id)
        }
        for (offset, list) in lists.enumerated() where !active.contains(list.rawValue) {
            throw HushError(.notFound, field: "lists[\(offset)]", "no list \(list) in this organization")
        }
    }
}
