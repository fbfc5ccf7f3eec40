import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    /// The link signing keys, newest first, retired ones marked; a key is created when none
    /// can sign.
    public func linkKeys() async throws -> [LinkKey] {
        let keys = try await read { db in try Self.linkKeys(db) }
        if keys.contains(where: { !$0.retired }) { return keys }
        return try await storageErrors {
            try await pool.write { db in
                let existing = try Self.linkKeys(db)
                if existing.contains(where: { !$0.retired }) { return existing }
                return [try Self.insert(LinkKey.generate(), db, now: StoredCoding.milliseconds(configuration.now()))] + existing
            }
        }
    }

    /// Retires a key: links signed with it stop working (they show the expired page). False
    /// when there is no such key in use.
    public func retireLinkKey(_ id: String) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        return try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "UPDATE link_keys SET retired_at = ? WHERE id = ? AND retired_at IS NULL", arguments: [now, id])
                return db.changesCount == 1
            }
        }
    }

    /// Adds a new signing key; links signed with older keys keep working.
    public func rotateLinkKey() async throws -> LinkKey {
        let now = StoredCoding.milliseconds(configuration.now())
        return try await storageErrors {
            try await pool.write { db in try Self.insert(LinkKey.generate(), db, now: now) }
        }
    }

    private static func linkKeys(_ db: Database) throws -> [LinkKey] {
        try Row.fetchAll(db, sql: "SELECT id, hush_open(secret), retired_at IS NOT NULL FROM link_keys ORDER BY created_at DESC, rowid DESC")
            .map { LinkKey(id: $0[0], secret: [UInt8]($0[1] as Data), retired: $0[2]) }
    }

    private static func insert(_ key: LinkKey, _ db: Database, now: Int64) throws -> LinkKey {
        try db.execute(sql: "INSERT INTO link_keys (id, secret, created_at) VALUES (?, hush_seal(?), ?)", arguments: [key.id, Data(key.secret), now])
        return key
    }

    // MARK: Pending opt-ins

    public func createOptInRequest(
        _ request: OptInRequest, confirmURL: @Sendable (OptInRequest) throws -> String, in organization: OrganizationID
    ) async throws -> (request: OptInRequest, created: Bool) {
        let now = configuration.now()
        return try await storageErrors {
            try await pool.write { db in
                let owner = try SQLiteStore.requireOrganization(db, organization)
                let list = request.list ?? owner.defaultList
                guard let listName = try SQLiteStore.activeList(db, list, in: organization)?.definition.name else {
                    throw HushError(.notFound, field: "list", "no list \(list) in this organization")
                }
                let unconfirmed = try Self.optInRequests(db, """
                    org_id = ? AND address = ? AND channel = ? AND scope = ? AND list_id = ? AND confirmed_at IS NULL
                    """, [organization.rawValue, request.address.normalized, request.channel.rawValue, request.scope.path, list.rawValue])
                if let pending = OptInRequest.reused(among: unconfirmed, at: now) {
                    return (pending, false)
                }
                try db.execute(sql: """
                    INSERT INTO opt_in_requests (org_id, address, contact, channel, scope, list_id, requested_by, created_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [
                        organization.rawValue, request.address.normalized, request.contact?.externalID, request.channel.rawValue,
                        request.scope.path, list.rawValue, request.requestedBy, StoredCoding.milliseconds(now),
                        request.expiresAt.map(StoredCoding.milliseconds),
                    ])
                var stored = request
                stored.id = db.lastInsertedRowID
                stored.list = list
                stored.createdAt = now
                for sequence in request.lifts {
                    try db.execute(sql: "INSERT INTO opt_in_request_lifts (request_id, event_seq) VALUES (?, ?)", arguments: [stored.id, sequence])
                }
                var outbox = Outbox(db, organization: organization, now: configuration.now())
                try outbox.enqueue(
                    [WebhookEvent(requested: stored, listName: listName, confirmURL: try confirmURL(stored))], addressIDs: [nil],
                    now: StoredCoding.milliseconds(now))
                return (stored, true)
            }
        }
    }

    public func optInRequest(_ id: Int64, in organization: OrganizationID) async throws -> OptInRequest? {
        try await read { db in try Self.optInRequests(db, "org_id = ? AND id = ?", [organization.rawValue, id]).first }
    }

    /// Pending (or all) opt-in requests, oldest first, after `after`.
    public func optInRequests(in organization: OrganizationID, pendingOnly: Bool, after: Int64, limit: Int) async throws -> [OptInRequest] {
        try await read { db in
            try Self.optInRequests(
                db, "org_id = ? AND id > ?" + (pendingOnly ? " AND confirmed_at IS NULL" : "") + " ORDER BY id LIMIT ?",
                [organization.rawValue, after, limit])
        }
    }

    public func confirm(_ request: OptInRequest, as optIns: [OptIn], in organization: OrganizationID) async throws -> [OptInOutcome]? {
        let now = StoredCoding.milliseconds(configuration.now())
        let erasureKey = configuration.erasureKey
        return try await write { db in
            let confirmed = try Bool.fetchOne(db, sql: "SELECT confirmed_at IS NOT NULL FROM opt_in_requests WHERE id = ? AND org_id = ?",
                                              arguments: [request.id, organization.rawValue])
            guard confirmed == false else { return (nil, []) }
            var transaction = try ChangeTransaction(db, organization: organization, now: now)
            let outcomes = try optIns.map { try transaction.record($0, erasureKey: erasureKey) }
            try db.execute(sql: "UPDATE opt_in_requests SET confirmed_at = ?, confirmed_event = ? WHERE id = ?",
                           arguments: [now, outcomes.compactMap(\.event?.sequence).first, request.id])
            return (outcomes, transaction.changes)
        }
    }

    private static func optInRequests(_ db: Database, _ condition: String, _ arguments: StatementArguments) throws -> [OptInRequest] {
        try Row.fetchAll(db, sql: """
            SELECT id, address, contact, channel, scope, list_id, requested_by, created_at, confirmed_at, expires_at,
                   (SELECT group_concat(event_seq) FROM opt_in_request_lifts WHERE request_id = opt_in_requests.id) AS lifts
            FROM opt_in_requests WHERE \(condition)
            """, arguments: arguments).map { row in
            let address: String = row["address"]
            let contact: String? = row["contact"]
            let confirmed: Int64? = row["confirmed_at"]
            let expires: Int64? = row["expires_at"]
            let lifts: String? = row["lifts"]
            return OptInRequest(
                id: row["id"], address: Address(normalized: address, kind: address.hasPrefix("+") ? .phone : .email, input: address),
                contact: try contact.map { (id) throws(HushError) in try ContactID(parsing: id) },
                channel: try StoredCoding.channel(row["channel"]), scope: try StoredCoding.scope(row["scope"]),
                list: ListID(rawValue: row["list_id"]), requestedBy: row["requested_by"], createdAt: StoredCoding.date(row["created_at"]),
                confirmedAt: confirmed.map(StoredCoding.date), expiresAt: expires.map(StoredCoding.date),
                lifts: Set((lifts ?? "").split(separator: ",").compactMap { Int64($0) }))
        }
    }
}
