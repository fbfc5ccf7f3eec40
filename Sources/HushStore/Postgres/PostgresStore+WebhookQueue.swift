import Foundation
import HushCore
import Logging
import PostgresNIO

// MARK: Sending

/// The queue, shared by every node. An endpoint is worked by one node at a time, in ledger
/// order, and a delivery is leased to the node sending it (`leased_until`, `leased_by`) until it
/// is recorded, released, or its lease runs out: a node that dies holds nothing past
/// `leaseUntil`, and another takes its endpoints over then.
extension PostgresStore {
    /// Hands out what is due: for each enabled endpoint with nothing in flight, its oldest
    /// pending deliveries in the order they were queued (ledger order), up to `perEndpoint`, as
    /// long as each is due. They are leased until `leaseUntil` so no other sender takes them.
    ///
    /// "Nothing in flight" is SQLite's rule (the endpoint's first pending delivery is due and not
    /// under a lease, and the endpoint is not in `busy`) and, across nodes, no pending delivery of
    /// the endpoint is under another node's unexpired lease (a delivery tried again by hand can
    /// come before a batch another node is still sending). In one transaction:
    ///
    /// 1. The candidates are chosen, soonest due first, and their endpoint rows locked
    ///    `FOR UPDATE SKIP LOCKED`: a node claiming at the same moment skips them rather than
    ///    waiting, and takes other endpoints.
    /// 2. The locked candidates are read again by a new statement, whose snapshot is taken after
    ///    the locks were granted: a node that claimed one of them and committed between the
    ///    first statement's snapshot and the lock is seen now, and the endpoint is dropped. Every
    ///    claim of an endpoint holds its row lock, so two nodes never both pass this check.
    /// 3. Each endpoint's first `perEndpoint` pending deliveries are read in id order, and the
    ///    run of them that is due is kept, stopping at the first that is not.
    /// 4. Those are leased to this node.
    public func claimDeliveries(
        endpoints limit: Int, perEndpoint: Int, excluding busy: Set<WebhookID>, leaseUntil: Date
    ) async throws -> [[ClaimedDelivery]] {
        guard limit > 0, perEndpoint > 0 else { return [] }
        let now = configuration.now()
        let node = self.node
        let candidates = ClaimCandidates(
            now: StoredCoding.milliseconds(now), node: node, busy: busy.map(\.rawValue), limit: Int64(limit))
        let lease = StoredCoding.milliseconds(leaseUntil)
        let key = configuration.secretKey
        let logger = self.logger
        return try await transaction { connection in
            let locked = try await candidates.rows(connection, among: nil, logger: logger).map { try $0.decode(Int64.self) }
            guard !locked.isEmpty else { return [] }
            let endpoints = try await candidates.rows(connection, among: locked, logger: logger).map {
                try PostgresOutbox.endpoint($0, secrets: key, now: now)
            }
            guard !endpoints.isEmpty else { return [] }
            var pending: [Int64: [(id: Int64, attempts: Int, due: Int64, event: WebhookEvent)]] = [:]
            for try await (endpoint, id, attempts, due, eventID, kind, sequence, occurredAt, list, data) in try await connection.query("""
                SELECT d.endpoint_id, d.id, d.attempts, d.next_attempt_at, o.id, o.kind, o.ledger_seq, o.occurred_at, o.list_id, o.data
                FROM UNNEST(\(endpoints.map(\.id.rawValue))::bigint[]) AS e(id)
                CROSS JOIN LATERAL (
                    SELECT endpoint_id, id, attempts, next_attempt_at, outbox_id FROM webhook_deliveries
                    WHERE endpoint_id = e.id AND status = 'pending' ORDER BY id LIMIT \(Int64(perEndpoint))
                ) d
                JOIN webhook_outbox o ON o.id = d.outbox_id
                ORDER BY d.endpoint_id, d.id
                """, logger: logger).decode((Int64, Int64, Int, Int64, Int64, String, Int64?, Int64, Int64?, String).self) {
                let event = try Self.outboxEvent(id: eventID, kind: kind, sequence: sequence, occurredAt: occurredAt, list: list, data: data)
                pending[endpoint, default: []].append((id, attempts, due, event))
            }
            var claimed: [[ClaimedDelivery]] = []
            for endpoint in endpoints {
                let batch = (pending[endpoint.id.rawValue] ?? []).prefix(while: { $0.due <= candidates.now }).map {
                    ClaimedDelivery(id: DeliveryID(rawValue: $0.id), attempts: $0.attempts, endpoint: endpoint, event: $0.event)
                }
                if !batch.isEmpty { claimed.append(batch) }
            }
            let leased = claimed.flatMap { $0.map(\.id.rawValue) }
            if !leased.isEmpty {
                try await connection.rows("""
                    UPDATE webhook_deliveries SET leased_until = \(lease), leased_by = \(node) WHERE id = ANY(\(leased)::bigint[])
                    """, logger: logger)
            }
            return claimed
        }
    }

    /// Records how attempts went, in one transaction: one statement per attempt. A lease is
    /// cleared only when this node holds it; one another node took over after this node's ran
    /// out stays with that node. Endpoints answering 410 are disabled first, as a claim locks an
    /// endpoint's row before its deliveries': the two never wait on each other in a cycle.
    public func recordAttempts(_ attempts: [DeliveryAttempt]) async throws {
        guard !attempts.isEmpty else { return }
        let node = self.node
        let logger = self.logger
        try await transaction { connection in
            let gone = attempts.compactMap { attempt -> Int64? in
                guard case .gone = attempt.outcome else { return nil }
                return attempt.endpoint.rawValue
            }
            if !gone.isEmpty {
                try await connection.rows("""
                    UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'the receiver answered 410 Gone'
                    WHERE id = ANY(\(gone)::bigint[])
                    """, logger: logger)
            }
            for attempt in attempts {
                if case .released = attempt.outcome {
                    try await connection.rows("""
                        UPDATE webhook_deliveries SET
                            leased_until = CASE WHEN leased_by = \(node) THEN NULL ELSE leased_until END,
                            leased_by = CASE WHEN leased_by = \(node) THEN NULL ELSE leased_by END
                        WHERE id = \(attempt.delivery.rawValue)
                        """, logger: logger)
                    continue
                }
                let at = StoredCoding.milliseconds(attempt.at)
                // What the outcome changes besides the attempt itself; nil leaves a column as it is.
                let (status, finishedAt, nextAttemptAt): (String?, Int64?, Int64?) = switch attempt.outcome {
                case .succeeded: ("succeeded", at, nil)
                case .retry(let next?): (nil, nil, StoredCoding.milliseconds(next))
                case .retry(nil): ("dead", at, nil)
                case .gone, .released: (nil, nil, nil)
                }
                try await connection.rows("""
                    UPDATE webhook_deliveries SET
                        status = COALESCE(\(status), status), finished_at = COALESCE(\(finishedAt), finished_at),
                        next_attempt_at = COALESCE(\(nextAttemptAt), next_attempt_at),
                        leased_until = CASE WHEN leased_by = \(node) THEN NULL ELSE leased_until END,
                        leased_by = CASE WHEN leased_by = \(node) THEN NULL ELSE leased_by END,
                        attempts = attempts + 1, last_attempt_at = \(at), response_status = \(attempt.responseStatus.map(Int64.init)),
                        response_body = \(attempt.responseBody), error = \(attempt.error)
                    WHERE id = \(attempt.delivery.rawValue) AND leased_by = \(node)
                    """, logger: logger)
            }
        }
    }

    /// Removes deliveries that succeeded or died before `cutoff` (and every delivery of an
    /// endpoint deleted before it), then the announced events that are older and have no
    /// delivery left; a few thousand rows per transaction, so writers are not held up. A replay
    /// recreates what it needs from the ledger, under the same ids.
    ///
    /// One node prunes at a time: each transaction first tries the prune lock, and when another
    /// node holds it (or a replay, which holds it shared) this returns what it removed so far.
    public func pruneWebhooks(finishedBefore cutoff: Date) async throws -> (deliveries: Int, events: Int) {
        let before = StoredCoding.milliseconds(cutoff)
        let batch = 5000
        let logger = self.logger
        let deliveries: PostgresQuery = """
            WITH removed AS (
                DELETE FROM webhook_deliveries WHERE id IN (
                    SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND finished_at < \(before) LIMIT \(Int64(batch)))
                -- Again here: a delivery retried by hand since the select above is pending again.
                AND status <> 'pending' AND finished_at < \(before)
                RETURNING 1)
            SELECT COUNT(*) FROM removed
            """
        // A deleted endpoint's deliveries, pending ones too: nothing sends them any more.
        let orphaned: PostgresQuery = """
            WITH removed AS (
                DELETE FROM webhook_deliveries WHERE id IN (
                    SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                    WHERE e.deleted_at < \(before) LIMIT \(Int64(batch)))
                RETURNING 1)
            SELECT COUNT(*) FROM removed
            """
        let events: PostgresQuery = """
            WITH removed AS (
                DELETE FROM webhook_outbox WHERE id IN (
                    SELECT o.id FROM webhook_outbox o WHERE o.occurred_at < \(before)
                    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.outbox_id = o.id) LIMIT \(Int64(batch)))
                RETURNING 1)
            SELECT COUNT(*) FROM removed
            """
        var removed = (deliveries: 0, events: 0)
        for (table, query) in [("deliveries", orphaned), ("deliveries", deliveries), ("events", events)] {
            while true {
                let count = try await transaction { connection -> Int? in
                    guard try await connection.value(
                        "SELECT pg_try_advisory_xact_lock(\(PostgresSchema.pruneLock))", as: Bool.self, logger: logger) == true
                    else { return nil }
                    return Int(try await connection.value(query, as: Int64.self, logger: logger) ?? 0)
                }
                guard let count else { return removed }
                if table == "deliveries" { removed.deliveries += count } else { removed.events += count }
                if count < batch { break }
            }
        }
        return removed
    }

    /// Frees this node's leases: what it was sending is handed out again at once. Another
    /// node's leases are left alone; those of a node that stopped run out at their
    /// `leaseUntil`, and any node takes the deliveries over then.
    /// Only while this node still holds them: a lease another node took over stays its.
    public func renewDeliveryLeases(_ deliveries: [DeliveryID], until: Date) async throws {
        guard !deliveries.isEmpty else { return }
        let node = self.node
        let logger = self.logger
        try await transaction { connection in
            try await connection.rows("""
                UPDATE webhook_deliveries SET leased_until = \(StoredCoding.milliseconds(until))
                WHERE id = ANY(\(deliveries.map(\.rawValue))::bigint[]) AND status = 'pending' AND leased_by = \(node)
                """, logger: logger)
        }
    }

    public func releaseDeliveryLeases() async throws {
        let node = self.node
        let logger = self.logger
        try await transaction { connection in
            _ = try await connection.rows("""
                UPDATE webhook_deliveries SET leased_until = NULL, leased_by = NULL
                WHERE status = 'pending' AND leased_until IS NOT NULL AND leased_by = \(node)
                """, logger: logger)
        }
    }

    /// When the first delivery that could be handed out is due: the oldest pending delivery of
    /// each enabled endpoint not in `busy`, no earlier than its lease runs out, nor (across
    /// nodes) than another node's lease on any of the endpoint's pending deliveries runs out.
    /// One index lookup per endpoint; the endpoint's other deliveries are looked at only when
    /// its oldest is due by itself.
    public func nextDeliveryDue(excluding busy: Set<WebhookID>) async throws -> Date? {
        let now = StoredCoding.milliseconds(configuration.now())
        let node = self.node
        let busy = busy.map(\.rawValue)
        let logger = self.logger
        return try await read { connection in
            try await connection.value("""
                SELECT MIN(CASE WHEN h.due > \(now) THEN h.due ELSE GREATEST(h.due, COALESCE((
                           SELECT MAX(f.leased_until) FROM webhook_deliveries f
                           WHERE f.endpoint_id = w.id AND f.status = 'pending' AND f.leased_by <> \(node) AND f.leased_until > \(now)
                       ), 0)) END)
                FROM webhook_endpoints w
                JOIN LATERAL (
                    SELECT GREATEST(next_attempt_at, COALESCE(leased_until, 0)) AS due FROM webhook_deliveries
                    WHERE endpoint_id = w.id AND status = 'pending' ORDER BY id LIMIT 1
                ) h ON true
                WHERE w.enabled AND w.deleted_at IS NULL AND w.id <> ALL(\(busy)::bigint[])
                """, as: Int64.self, logger: logger).map { StoredCoding.date(max($0, now)) }
        }
    }
}

/// The endpoints a claim may take now (see `claimDeliveries`), soonest due first.
private struct ClaimCandidates {
    let now: Int64
    let node: String
    let busy: [Int64]
    let limit: Int64

    /// Without `among`, chooses the candidates and locks their rows, skipping rows another
    /// transaction holds; with it, reads those (already locked) again in a fresh snapshot.
    /// The columns are `PostgresOutbox.endpoint`'s.
    func rows(_ connection: PostgresConnection, among locked: [Int64]?, logger: Logger) async throws -> [PostgresRow] {
        try await connection.rows("""
            SELECT w.id, w.url, w.events, w.lists, w.enabled, w.secrets, w.disabled_reason, w.owner_list
            FROM webhook_endpoints w
            JOIN LATERAL (
                SELECT endpoint_id, next_attempt_at, leased_until FROM webhook_deliveries
                WHERE endpoint_id = w.id AND status = 'pending' ORDER BY id LIMIT 1
            ) d ON true
            WHERE w.enabled AND w.deleted_at IS NULL AND w.id <> ALL(\(busy)::bigint[])
              AND (\(locked == nil) OR w.id = ANY(\(locked ?? [])::bigint[]))
              AND d.next_attempt_at <= \(now) AND (d.leased_until IS NULL OR d.leased_until <= \(now))
              AND NOT EXISTS (
                  SELECT 1 FROM webhook_deliveries f
                  WHERE f.endpoint_id = d.endpoint_id AND f.status = 'pending' AND f.leased_until > \(now) AND f.leased_by <> \(node))
            ORDER BY d.next_attempt_at, w.id
            LIMIT \(limit)
            \(unescaped: locked == nil ? "FOR UPDATE OF w SKIP LOCKED" : "")
            """, logger: logger)
    }
}
