import Foundation
import HushCore
import Logging
import PostgresNIO

extension PostgresStore {
    /// The advisory lock link keys are created under: the first-use key of `linkKeys()` and
    /// `rotateLinkKey()` take it, so two nodes never both create a first key, and a new key's
    /// `created_at` is always later than every other key's (newest first is exact even when two
    /// keys are made in one millisecond; SQLite breaks that tie by rowid, which PostgreSQL lacks).
    private static let linkKeyLock: Int64 = 0x4855_5348_4C4B

    /// The class of the two-key advisory locks a pending opt-in is created under, one per
    /// organization, address, channel, scope and list: two nodes asked for the same request at
    /// once store it once (SQLite gets this from its single writer). The two-key space does not
    /// overlap the single-key one the other locks use.
    private static let optInRequestLockClass: Int32 = 0x4855_4F49

    /// The link signing keys, newest first, retired ones marked; a key is created when none
    /// can sign.
    public func linkKeys() async throws -> [LinkKey] {
        let logger = self.logger
        let secretKey = configuration.secretKey
        let keys = try await read { try await Self.linkKeys($0, secretKey: secretKey, logger: logger) }
        if keys.contains(where: { !$0.retired }) { return keys }
        let now = StoredCoding.milliseconds(configuration.now())
        return try await transaction { connection in
            // Checked again under the lock: of two nodes here at once, the second finds the
            // first one's key.
            try await connection.rows("SELECT pg_advisory_xact_lock(\(Self.linkKeyLock))", logger: logger)
            let existing = try await Self.linkKeys(connection, secretKey: secretKey, logger: logger)
            if existing.contains(where: { !$0.retired }) { return existing }
            return [try await Self.insert(LinkKey.generate(), connection, secretKey: secretKey, now: now, logger: logger)] + existing
        }
    }

    /// Retires a key: links signed with it stop working (they show the expired page). False
    /// when there is no such key in use.
    public func retireLinkKey(_ id: String) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        return try await transaction { connection in
            let retired = try await connection.rows(
                "UPDATE link_keys SET retired_at = \(now) WHERE id = \(id) AND retired_at IS NULL RETURNING id", logger: logger)
            return retired.count == 1
        }
    }

    /// Adds a new signing key; links signed with older keys keep working.
    public func rotateLinkKey() async throws -> LinkKey {
        let now = StoredCoding.milliseconds(configuration.now())
        let secretKey = configuration.secretKey
        let logger = self.logger
        return try await transaction { connection in
            try await connection.rows("SELECT pg_advisory_xact_lock(\(Self.linkKeyLock))", logger: logger)
            return try await Self.insert(LinkKey.generate(), connection, secretKey: secretKey, now: now, logger: logger)
        }
    }

    private static func linkKeys(_ connection: PostgresConnection, secretKey: SecretKey, logger: Logger) async throws -> [LinkKey] {
        var keys: [LinkKey] = []
        for try await (id, sealed, retired) in try await connection.query("""
            SELECT id, secret, retired_at IS NOT NULL FROM link_keys ORDER BY created_at DESC, id DESC
            """, logger: logger).decode((String, ByteBuffer, Bool).self) {
            keys.append(LinkKey(id: id, secret: try PostgresSecrets.open(bytes: Array(buffer: sealed), with: secretKey), retired: retired))
        }
        return keys
    }

    /// Stores `key` sealed. Callers hold `linkKeyLock`: its `created_at` is `now`, or just after
    /// the newest key's when the clock has not moved past it.
    private static func insert(
        _ key: LinkKey, _ connection: PostgresConnection, secretKey: SecretKey, now: Int64, logger: Logger
    ) async throws -> LinkKey {
        let sealed = ByteBuffer(bytes: PostgresSecrets.seal(bytes: key.secret, with: secretKey))
        try await connection.rows("""
            INSERT INTO link_keys (id, secret, created_at)
            SELECT \(key.id), \(sealed), GREATEST(\(now), COALESCE(MAX(created_at) + 1, \(now))) FROM link_keys
            """, logger: logger)
        return key
    }

    // MARK: Pending opt-ins

    public func createOptInRequest(
        _ request: OptInRequest, confirmURL: @Sendable (OptInRequest) throws -> String, in organization: OrganizationID
    ) async throws -> (request: OptInRequest, created: Bool) {
        let now = configuration.now()
        let logger = self.logger
        return try await transaction { connection in
            let owner = try await Self.requireOrganization(connection, organization, logger: logger)
            let list = request.list ?? owner.defaultList
            guard let listName = try await connection.value("""
                SELECT name FROM lists WHERE id = \(list.rawValue) AND org_id = \(organization.rawValue) AND deleted_at IS NULL
                """, as: String.self, logger: logger)
            else {
                throw HushError(.notFound, field: "list", "no list \(list) in this organization")
            }
            let address = request.address.normalized, channel = request.channel.rawValue, scope = request.scope.path
            let lockKey = "\(organization.rawValue)|\(list.rawValue)|\(channel)|\(scope)|\(address)"
            try await connection.rows(
                "SELECT pg_advisory_xact_lock(\(Self.optInRequestLockClass), hashtext(\(lockKey)))", logger: logger)
            let unconfirmed = try await Self.optInRequests(connection, """
                SELECT \(unescaped: Self.optInRequestColumns) FROM opt_in_requests
                WHERE org_id = \(organization.rawValue) AND address = \(address) AND channel = \(channel) AND scope = \(scope)
                  AND list_id = \(list.rawValue) AND confirmed_at IS NULL
                """, logger: logger)
            if let pending = OptInRequest.reused(among: unconfirmed, at: now) {
                return (pending, false)
            }
            guard let id = try await connection.value("""
                INSERT INTO opt_in_requests (org_id, address, contact, channel, scope, list_id, requested_by, created_at, expires_at)
                VALUES (\(organization.rawValue), \(address), \(request.contact?.externalID), \(channel), \(scope), \(list.rawValue),
                        \(request.requestedBy), \(StoredCoding.milliseconds(now)), \(request.expiresAt.map(StoredCoding.milliseconds)))
                RETURNING id
                """, as: Int64.self, logger: logger)
            else { throw HushError(.storage, "the opt-in request was not written") }
            var stored = request
            stored.id = id
            stored.list = list
            stored.createdAt = now
            if !request.lifts.isEmpty {
                try await connection.rows("""
                    INSERT INTO opt_in_request_lifts (request_id, event_seq) SELECT \(id), UNNEST(\(Array(request.lifts))::bigint[])
                    """, logger: logger)
            }
            var outbox = PostgresOutbox(connection, logger: logger, organization: organization, now: self.configuration.now())
            try await outbox.enqueue(
                [WebhookEvent(requested: stored, listName: listName, confirmURL: try confirmURL(stored))], addressIDs: [nil],
                now: StoredCoding.milliseconds(now))
            return (stored, true)
        }
    }

    public func optInRequest(_ id: Int64, in organization: OrganizationID) async throws -> OptInRequest? {
        let logger = self.logger
        return try await read { connection in
            try await Self.optInRequests(connection, """
                SELECT \(unescaped: Self.optInRequestColumns) FROM opt_in_requests WHERE org_id = \(organization.rawValue) AND id = \(id)
                """, logger: logger).first
        }
    }

    /// Pending (or all) opt-in requests, oldest first, after `after`.
    public func optInRequests(in organization: OrganizationID, pendingOnly: Bool, after: Int64, limit: Int) async throws -> [OptInRequest] {
        let logger = self.logger
        return try await read { connection in
            try await Self.optInRequests(connection, """
                SELECT \(unescaped: Self.optInRequestColumns) FROM opt_in_requests
                WHERE org_id = \(organization.rawValue) AND id > \(after) \(unescaped: pendingOnly ? "AND confirmed_at IS NULL" : "")
                ORDER BY id LIMIT \(Int64(limit))
                """, logger: logger)
        }
    }

    public func confirm(_ request: OptInRequest, as optIns: [OptIn], in organization: OrganizationID) async throws -> [OptInOutcome]? {
        let now = StoredCoding.milliseconds(configuration.now())
        let erasureKey = configuration.erasureKey
        let logger = self.logger
        let instance = database.instance
        return try await write { connection in
            // Read under the append lock `write` holds: of two confirmations at once, the
            // second sees the first one's mark.
            let confirmed = try await connection.value("""
                SELECT confirmed_at IS NOT NULL FROM opt_in_requests WHERE id = \(request.id) AND org_id = \(organization.rawValue)
                """, as: Bool.self, logger: logger)
            guard confirmed == false else { return (nil, []) }
            var transaction = try await PostgresChangeTransaction(
                connection, logger: logger, organization: organization, now: now, notifying: instance)
            var outcomes: [OptInOutcome] = []
            outcomes.reserveCapacity(optIns.count)
            for optIn in optIns {
                outcomes.append(try await transaction.record(optIn, erasureKey: erasureKey))
            }
            try await connection.rows("""
                UPDATE opt_in_requests SET confirmed_at = \(now), confirmed_event = \(outcomes.compactMap(\.event?.sequence).first)
                WHERE id = \(request.id)
                """, logger: logger)
            return (outcomes, transaction.changes)
        }
    }

    /// The columns `optInRequest(from:)` reads, in its order; `lifts` is the request's lifted
    /// events as an array (NULL when there are none).
    private static let optInRequestColumns = """
        id, address, contact, channel, scope, list_id, requested_by, created_at, confirmed_at, expires_at,
        (SELECT array_agg(event_seq) FROM opt_in_request_lifts WHERE request_id = opt_in_requests.id) AS lifts
        """

    /// The requests `query` selects (`optInRequestColumns` from `opt_in_requests`), in its order.
    private static func optInRequests(_ connection: PostgresConnection, _ query: PostgresQuery, logger: Logger) async throws -> [OptInRequest] {
        try await connection.rows(query, logger: logger).map { try optInRequest(from: $0) }
    }

    private static func optInRequest(from row: PostgresRow) throws -> OptInRequest {
        let (id, address, contact, channel, scope, list, requestedBy, created, confirmed, expires, lifts) =
            try row.decode((Int64, String, String?, String, String, Int64, String, Int64, Int64?, Int64?, [Int64]?).self)
        return OptInRequest(
            id: id, address: Address(normalized: address, kind: address.hasPrefix("+") ? .phone : .email, input: address),
            contact: try contact.map { (id) throws(HushError) in try ContactID(parsing: id) },
            channel: try StoredCoding.channel(channel), scope: try StoredCoding.scope(scope),
            list: ListID(rawValue: list), requestedBy: requestedBy, createdAt: StoredCoding.date(created),
            confirmedAt: confirmed.map(StoredCoding.date), expiresAt: expires.map(StoredCoding.date),
            lifts: Set(lifts ?? []))
    }
}
