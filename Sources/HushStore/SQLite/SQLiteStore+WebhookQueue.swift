import Foundation
import GRDB
import HushCore

/// Sending webhooks: what is due, leased to one sender, its attempts recorded, its history pruned.
extension SQLiteStore {
    /// Hands out what is due: for each enabled endpoint with nothing in flight, its oldest
    /// pending deliveries in the order they were queued (ledger order), up to `perEndpoint`, as long as each is due. They are
    /// leased until `leaseUntil` so no other sender takes them.
    public func claimDeliveries(
        endpoints limit: Int, perEndpoint: Int, excluding busy: Set<WebhookID>, leaseUntil: Date
    ) async throws -> [[ClaimedDelivery]] {
        let now = configuration.now()
        let nowMilliseconds = StoredCoding.milliseconds(now)
        let lease = StoredCoding.milliseconds(leaseUntil)
        return try await storageErrors {
            try await pool.write { db in
                let heads = try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT w.id, w.url, w.events, w.lists, w.enabled, hush_open(w.secrets), w.disabled_reason, w.owner_list
                    FROM webhook_endpoints w
                    JOIN webhook_deliveries d ON d.id = (
                        SELECT id FROM webhook_deliveries INDEXED BY webhook_deliveries_queue WHERE endpoint_id = w.id AND status = 'pending' ORDER BY id LIMIT 1)
                    WHERE w.enabled = 1 AND w.deleted_at IS NULL AND d.next_attempt_at <= ?
                      AND (d.leased_until IS NULL OR d.leased_until <= ?)
                    ORDER BY d.next_attempt_at
                    """), arguments: [nowMilliseconds, nowMilliseconds])
                var claimed: [[ClaimedDelivery]] = []
                for head in heads where claimed.count < limit {
                    let endpoint = try Outbox.endpoint(head, now: now)
                    guard !busy.contains(endpoint.id) else { continue }
                    var batch: [ClaimedDelivery] = []
                    let rows = try Row.fetchAll(db.cachedStatement(sql: """
                        SELECT d.id, d.attempts, d.next_attempt_at, o.id, o.kind, o.ledger_seq, o.occurred_at, o.list_id, o.data
                        FROM webhook_deliveries d INDEXED BY webhook_deliveries_queue JOIN webhook_outbox o ON o.id = d.outbox_id
                        WHERE d.endpoint_id = ? AND d.status = 'pending'
                        ORDER BY d.id LIMIT ?
                        """), arguments: [endpoint.id, perEndpoint])
                    for row in rows {
                        guard (row[2] as Int64) <= nowMilliseconds else { break }
                        batch.append(ClaimedDelivery(id: row[0], attempts: row[1], endpoint: endpoint, event: try Self.event(row, offset: 3)))
                    }
                    guard !batch.isEmpty else { continue }
                    try db.execute(sql: "UPDATE webhook_deliveries SET leased_until = ? WHERE id IN (\(batch.map { String($0.id.rawValue) }.joined(separator: ",")))",
                                   arguments: [lease])
                    claimed.append(batch)
                }
                return claimed
            }
        }
    }

    /// Records how attempts went, in one transaction.
    public func recordAttempts(_ attempts: [DeliveryAttempt]) async throws {
        guard !attempts.isEmpty else { return }
        try await storageErrors {
            try await pool.write { db in
                for attempt in attempts {
                    let at = StoredCoding.milliseconds(attempt.at)
                    switch attempt.outcome {
                    case .released:
                        try db.execute(sql: "UPDATE webhook_deliveries SET leased_until = NULL WHERE id = ?", arguments: [attempt.delivery])
                        continue
                    case .succeeded:
                        try db.execute(sql: """
                            UPDATE webhook_deliveries SET status = 'succeeded', finished_at = ?, leased_until = NULL WHERE id = ?
                            """, arguments: [at, attempt.delivery])
                    case .retry(let next):
                        if let next {
                            try db.execute(sql: """
                                UPDATE webhook_deliveries SET next_attempt_at = ?, leased_until = NULL WHERE id = ?
                                """, arguments: [StoredCoding.milliseconds(next), attempt.delivery])
                        } else {
                            try db.execute(sql: """
                                UPDATE webhook_deliveries SET status = 'dead', finished_at = ?, leased_until = NULL WHERE id = ?
                                """, arguments: [at, attempt.delivery])
                        }
                    case .gone:
                        try db.execute(sql: "UPDATE webhook_deliveries SET leased_until = NULL WHERE id = ?", arguments: [attempt.delivery])
                        try db.execute(sql: """
                            UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ? WHERE id = ?
                            """, arguments: ["the receiver answered 410 Gone", attempt.endpoint])
                    }
                    try db.execute(sql: """
                        UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = ?, response_status = ?, response_body = ?, error = ?
                        WHERE id = ?
                        """, arguments: [at, attempt.responseStatus, attempt.responseBody, attempt.error, attempt.delivery])
                }
            }
        }
    }

    /// Removes deliveries that succeeded or died before `cutoff` (and every delivery of an
    /// endpoint deleted before it), then the announced events that are older and have no
    /// delivery left; a few thousand rows per transaction, so writers are not held up. A replay
    /// recreates what it needs from the ledger, under the same ids.
    ///
    /// The newest row of each table stays: SQLite numbers a new row one past the largest id
    /// there is, so removing it would give its id (and its `webhook-id`, `msg_e{id}_…`, which a
    /// receiver drops as a repeat) to the next event.
    public func pruneWebhooks(finishedBefore cutoff: Date) async throws -> (deliveries: Int, events: Int) {
        let before = StoredCoding.milliseconds(cutoff)
        var removed = (deliveries: 0, events: 0)
        for (table, sql) in [
            // A deleted endpoint's deliveries, pending ones too: nothing sends them any more.
            ("deliveries", """
                DELETE FROM webhook_deliveries WHERE id IN (
                    SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                    WHERE e.deleted_at < ? AND d.id < (SELECT MAX(id) FROM webhook_deliveries) LIMIT 5000)
                """),
            ("deliveries", """
                DELETE FROM webhook_deliveries WHERE id IN (
                    SELECT id FROM webhook_deliveries WHERE status != 'pending' AND finished_at < ?
                    AND id < (SELECT MAX(id) FROM webhook_deliveries) LIMIT 5000)
                """),
            ("events", """
                DELETE FROM webhook_outbox WHERE id IN (
                    SELECT o.id FROM webhook_outbox o WHERE o.occurred_at < ? AND o.id < (SELECT MAX(id) FROM webhook_outbox)
                    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.outbox_id = o.id) LIMIT 5000)
                """),
        ] {
            while true {
                let count = try await storageErrors {
                    try await pool.write { db in
                        try db.execute(sql: sql, arguments: [before])
                        return db.changesCount
                    }
                }
                if table == "deliveries" { removed.deliveries += count } else { removed.events += count }
                if count < 5000 { break }
            }
        }
        return removed
    }

    public func renewDeliveryLeases(_ deliveries: [DeliveryID], until: Date) async throws {
        guard !deliveries.isEmpty else { return }
        let until = StoredCoding.milliseconds(until)
        try await storageErrors {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        UPDATE webhook_deliveries SET leased_until = ?
                        WHERE id IN (\(deliveries.map { String($0.rawValue) }.joined(separator: ","))) AND status = 'pending' AND leased_until IS NOT NULL
                        """,
                    arguments: [until])
            }
        }
    }

    /// Frees every lease: a server starting up takes back what a stopped one was sending.
    public func releaseDeliveryLeases() async throws {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "UPDATE webhook_deliveries SET leased_until = NULL WHERE status = 'pending' AND leased_until IS NOT NULL")
            }
        }
    }

    /// When the first delivery that could be handed out is due: the oldest pending delivery of
    /// each enabled endpoint not in `busy` and not leased. One index lookup per endpoint.
    public func nextDeliveryDue(excluding busy: Set<WebhookID>) async throws -> Date? {
        let now = StoredCoding.milliseconds(configuration.now())
        let excluded = busy.isEmpty ? "" : " AND w.id NOT IN (\(busy.map(String.init).joined(separator: ",")))"
        return try await read { db in
            try Int64.fetchOne(db, sql: """
                SELECT MIN(MAX(d.next_attempt_at, COALESCE(d.leased_until, 0))) FROM webhook_endpoints w
                JOIN webhook_deliveries d ON d.id = (
                    SELECT id FROM webhook_deliveries INDEXED BY webhook_deliveries_queue WHERE endpoint_id = w.id AND status = 'pending' ORDER BY id LIMIT 1)
                WHERE w.enabled = 1 AND w.deleted_at IS NULL
                """ + excluded).map { StoredCoding.date(max($0, now)) }
        }
    }
}
