import Foundation
import HushCore
import Logging
import PostgresNIO

/// Writes announced events, and one delivery per endpoint that wants each, inside the
/// transaction that made the change (PostgreSQL's `Outbox`): an event is never lost and never
/// announced before it is committed. Which endpoint wants what is `WebhookRouting`'s rule.
struct PostgresOutbox {
    private let connection: PostgresConnection
    private let logger: Logger
    private let organization: OrganizationID
    private let now: Date
    private var endpoints: [WebhookEndpoint]?

    /// `listening: false` when the caller knows no endpoint is enabled (read in a statement it
    /// needed anyway); nil to ask the database when an event is first announced.
    init(_ connection: PostgresConnection, logger: Logger, organization: OrganizationID, now: Date, listening: Bool? = nil) {
        self.connection = connection
        self.logger = logger
        self.organization = organization
        self.now = now
        if listening == false { endpoints = [] }
    }

    /// Whether the organization has an enabled endpoint; one query per transaction.
    mutating func isListening() async throws -> Bool {
        if endpoints == nil {
            endpoints = try await Self.endpoints(connection, logger: logger, of: organization, enabledOnly: true, secrets: nil, now: now)
        }
        return !(endpoints ?? []).isEmpty
    }

    /// Enqueues the events; `addressIDs[i]` is the address row event `i` names, if any, so
    /// erasing the person can clear it.
    mutating func enqueue(_ events: [WebhookEvent], addressIDs: [Int64?], now: Int64) async throws {
        guard try await isListening(), let endpoints else { return }
        var outbox: [(event: WebhookEvent, addressID: Int64?, endpoints: [WebhookID])] = []
        for (event, (addressID, wanting)) in zip(events, zip(addressIDs, WebhookRouting.endpoints(for: events, among: endpoints))) {
            if !wanting.isEmpty { outbox.append((event, addressID, wanting)) }
        }
        guard !outbox.isEmpty else { return }
        // WITH ORDINALITY keeps the events' order: ids are drawn in it, so deliveries follow the ledger.
        var eventIDs: [Int64] = []
        eventIDs.reserveCapacity(outbox.count)
        for try await id in try await connection.query("""
            INSERT INTO webhook_outbox (org_id, kind, ledger_seq, list_id, address_id, occurred_at, data)
            SELECT \(organization.rawValue), kind, NULLIF(seq, 0), NULLIF(list, 0), NULLIF(address, 0), at, data
            FROM UNNEST(\(outbox.map(\.event.kind.rawValue))::text[], \(outbox.map { $0.event.sequence ?? 0 })::bigint[],
                        \(outbox.map { $0.event.list?.rawValue ?? 0 })::bigint[], \(outbox.map { $0.addressID ?? 0 })::bigint[],
                        \(outbox.map { StoredCoding.milliseconds($0.event.occurredAt) })::bigint[], \(outbox.map(\.event.data))::text[])
                 WITH ORDINALITY AS t(kind, seq, list, address, at, data, n)
            ORDER BY n
            RETURNING id
            """, logger: logger).decode(Int64.self) {
            eventIDs.append(id)
        }
        eventIDs.sort()
        let deliveries = zip(outbox, eventIDs).flatMap { row, eventID in row.endpoints.map { (endpoint: $0, event: eventID) } }
        try await Self.insertDeliveries(connection, logger: logger, deliveries, now: now)
    }

    static func insertDeliveries(
        _ connection: PostgresConnection, logger: Logger, _ deliveries: [(endpoint: WebhookID, event: Int64)], now: Int64
    ) async throws {
        guard !deliveries.isEmpty else { return }
        try await connection.rows("""
            INSERT INTO webhook_deliveries (endpoint_id, outbox_id, status, next_attempt_at, created_at)
            SELECT e, o, 'pending', \(now), \(now)
            FROM UNNEST(\(deliveries.map(\.endpoint.rawValue))::bigint[], \(deliveries.map(\.event))::bigint[]) WITH ORDINALITY AS t(e, o, n)
            ORDER BY n
            """, logger: logger)
    }

    /// The organization's endpoints. `secrets` opens their signing secrets; without it (routing
    /// only) they are left out.
    static func endpoints(
        _ connection: PostgresConnection, logger: Logger, of organization: OrganizationID, enabledOnly: Bool,
        id: WebhookID? = nil, secrets: SecretKey?, now: Date
    ) async throws -> [WebhookEndpoint] {
        let rows = try await connection.rows("""
            SELECT id, url, events, lists, enabled, secrets, disabled_reason, owner_list FROM webhook_endpoints
            WHERE org_id = \(organization.rawValue) AND deleted_at IS NULL
              AND (enabled OR NOT \(enabledOnly)) AND (\(id?.rawValue)::bigint IS NULL OR id = \(id?.rawValue)::bigint)
            ORDER BY id
            """, logger: logger)
        return try rows.map { try endpoint($0, secrets: secrets, now: now) }
    }

    /// An endpoint from the columns `id, url, events, lists, enabled, secrets, disabled_reason,
    /// owner_list` (from `offset` on); secrets past their rotation window are left out.
    static func endpoint(_ row: PostgresRow, secrets key: SecretKey?, now: Date) throws -> WebhookEndpoint {
        let (id, url, events, lists, enabled, sealed, disabledReason, ownerList) =
            try row.decode((Int64, String, String, String?, Bool, String, String?, Int64?).self)
        let secrets = try key.map { key in
            try StoredSecrets.decode(PostgresSecrets.open(sealed, with: key), now: now)
        } ?? []
        return WebhookEndpoint(
            id: WebhookID(rawValue: id), url: url, events: events.split(separator: ",").map(String.init),
            lists: lists.map { $0.split(separator: ",").compactMap { Int64($0) }.map(ListID.init(rawValue:)) },
            enabled: enabled, secrets: secrets, disabledReason: disabledReason, ownerList: ownerList.map(ListID.init(rawValue:)))
    }
}

/// Hush's own secrets on PostgreSQL: sealed in Swift with the shared secret key before they
/// are written, opened after they are read; no plaintext secret reaches the database.
enum PostgresSecrets {
    static func seal(_ text: String, with key: SecretKey) -> String {
        String(decoding: key.seal(Array(text.utf8)), as: UTF8.self)
    }

    static func open(_ stored: String, with key: SecretKey) throws -> String {
        String(decoding: try key.open(Array(stored.utf8)), as: UTF8.self)
    }

    static func seal(bytes: [UInt8], with key: SecretKey) -> [UInt8] {
        key.seal(bytes)
    }

    static func open(bytes: [UInt8], with key: SecretKey) throws -> [UInt8] {
        try key.open(bytes)
    }

    /// Every node must hash erased addresses and seal secrets under the same keys. The first
    /// node records what its keys look like (an HMAC of a constant under the erasure key, a
    /// constant sealed under the secret key); a node whose keys do not match stops at start.
    static func verifyKeys(_ connection: PostgresConnection, erasureKey: ErasureKey, secretKey: SecretKey, logger: Logger) async throws {
        let probe = "hush shared key fingerprint v1"
        try await connection.rows("""
            INSERT INTO key_fingerprints (name, fingerprint)
            VALUES ('erasure', \(erasureKey.hashedKey(for: probe))), ('secret', \(seal(probe, with: secretKey)))
            ON CONFLICT (name) DO NOTHING
            """, logger: logger)
        var stored: [String: String] = [:]
        for try await (name, fingerprint) in try await connection.query(
            "SELECT name, fingerprint FROM key_fingerprints", logger: logger
        ).decode((String, String).self) {
            stored[name] = fingerprint
        }
        guard stored["erasure"] == erasureKey.hashedKey(for: probe) else {
            throw HushError(.storage, "HUSH_ERASURE_SECRET is not the one this database's other nodes use; give every node the same value")
        }
        guard let sealed = stored["secret"], (try? open(sealed, with: secretKey)) == probe else {
            throw HushError(.storage, "HUSH_SECRET_KEY is not the one this database's other nodes use; give every node the same value")
        }
    }
}
