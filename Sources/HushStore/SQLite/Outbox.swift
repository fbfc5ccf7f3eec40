import Foundation
import GRDB
import HushCore

/// Writes announced events, and one delivery per endpoint that wants each, inside the
/// transaction that made the change: an event is never lost and never announced before it
/// is committed.
struct Outbox {
    private let db: Database
    private let organization: OrganizationID
    private let now: Date
    private var endpoints: [WebhookEndpoint]?

    init(_ db: Database, organization: OrganizationID, now: Date) {
        self.db = db
        self.organization = organization
        self.now = now
    }

    /// Whether the organization has an enabled endpoint: when not, events need not even be built.
    /// One query per transaction.
    mutating func isListening() throws -> Bool {
        if endpoints == nil { endpoints = try Self.endpoints(db, of: organization, enabledOnly: true, now: now) }
        return !(endpoints ?? []).isEmpty
    }

    /// Enqueues the events; `addressIDs[i]` is the address row event `i` names, if any, so
    /// erasing the person can clear it.
    mutating func enqueue(_ events: [WebhookEvent], addressIDs: [Int64?], now: Int64) throws {
        guard try isListening(), let endpoints else { return }
        var outbox: [(event: WebhookEvent, addressID: Int64?, endpoints: [WebhookID])] = []
        for (event, (addressID, wanting)) in zip(events, zip(addressIDs, WebhookRouting.endpoints(for: events, among: endpoints))) {
            if !wanting.isEmpty { outbox.append((event, addressID, wanting)) }
        }
        guard !outbox.isEmpty else { return }
        var eventIDs: [Int64] = []
        eventIDs.reserveCapacity(outbox.count)
        let organizationID = organization.rawValue
        try BulkStatement(head: """
            INSERT INTO webhook_outbox (org_id, kind, ledger_seq, list_id, address_id, occurred_at, data) VALUES
            """, columns: 7, tail: "RETURNING id").run(outbox, in: db, bind: { row, values in
            values.bind(organizationID)
            values.bind(row.event.kind.rawValue)
            values.bind(row.event.sequence)
            values.bind(row.event.list?.rawValue)
            values.bind(row.addressID)
            values.bind(StoredCoding.milliseconds(row.event.occurredAt))
            values.bind(row.event.data)
        }, row: { row in
            eventIDs.append(row.int64(0))
        })
        // RETURNING's order is unspecified, but rows inserted by one transaction get increasing ids.
        eventIDs.sort()
        let deliveries = zip(outbox, eventIDs).flatMap { row, eventID in row.endpoints.map { (endpoint: $0, event: eventID) } }
        try Self.insertDeliveries(db, deliveries, now: now)
    }

    static func insertDeliveries(_ db: Database, _ deliveries: [(endpoint: WebhookID, event: Int64)], now: Int64) throws {
        try BulkStatement(head: """
            INSERT INTO webhook_deliveries (endpoint_id, outbox_id, status, next_attempt_at, created_at) VALUES
            """, columns: 5).run(deliveries, in: db) { row, values in
            values.bind(row.endpoint.rawValue)
            values.bind(row.event)
            values.bind("pending")
            values.bind(now)
            values.bind(now)
        }
    }

    static func endpoints(_ db: Database, of organization: OrganizationID, enabledOnly: Bool, id: WebhookID? = nil, now: Date) throws -> [WebhookEndpoint] {
        var sql = """
            SELECT id, url, events, lists, enabled, hush_open(secrets), disabled_reason, owner_list FROM webhook_endpoints
            WHERE org_id = ? AND deleted_at IS NULL
            """
        var arguments: StatementArguments = [organization.rawValue]
        if enabledOnly { sql += " AND enabled = 1" }
        if let id {
            sql += " AND id = ?"
            arguments += [id]
        }
        return try Row.fetchAll(db.cachedStatement(sql: sql + " ORDER BY id"), arguments: arguments).map { try endpoint($0, now: now) }
    }

    /// An endpoint from the columns `id, url, events, lists, enabled, secrets, disabled_reason,
    /// owner_list`; secrets past their rotation window are left out.
    static func endpoint(_ row: Row, now: Date, offset: Int = 0) throws -> WebhookEndpoint {
        let lists: String? = row[offset + 3]
        let ownerList: Int64? = row[offset + 7]
        return WebhookEndpoint(
            id: row[offset], url: row[offset + 1], events: (row[offset + 2] as String).split(separator: ",").map(String.init),
            lists: lists.map { $0.split(separator: ",").compactMap { Int64($0) }.map(ListID.init(rawValue:)) },
            enabled: row[offset + 4], secrets: try StoredSecrets.decode(row[offset + 5], now: now),
            disabledReason: row[offset + 6], ownerList: ownerList.map(ListID.init(rawValue:)))
    }
}

/// Endpoint secrets as stored: newest first, the previous one with the time it stops being used.
enum StoredSecrets {
    struct Entry: Codable {
        let secret: String
        let expiresAt: Int64?

        enum CodingKeys: String, CodingKey {
            case secret
            case expiresAt = "expires_at"
        }
    }

    static func decode(_ text: String, now: Date) throws -> [WebhookSecret] {
        let entries = try JSONDecoder().decode([Entry].self, from: Data(text.utf8))
        let nowMilliseconds = StoredCoding.milliseconds(now)
        return try entries.filter { ($0.expiresAt ?? .max) > nowMilliseconds }.map { try WebhookSecret(parsing: $0.secret) }
    }

    static func encode(_ entries: [Entry]) throws -> String {
        String(decoding: try JSONEncoder().encode(entries), as: UTF8.self)
    }
}
