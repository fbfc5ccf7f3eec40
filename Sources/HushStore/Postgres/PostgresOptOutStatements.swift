import HushCore
import PostgresNIO

/// The statements every group of opt-outs runs, prepared once per connection (PostgresNIO
/// names them by type and prepares each on a connection's first use). Parsed and planned anew
/// for every group, they cost about 40 % of the server's time for groups of single opt-outs
/// (measured with perf); prepared, the server plans them once and binds after.
enum PostgresOptOutStatements {
    /// Takes the append lock, reads the heads after the wait (see `hush_append_lock`), the
    /// organization with its default list, whether a webhook endpoint listens, and the facts of
    /// the default list and of `lists`.
    struct Prologue: PostgresPreparedStatement {
        static let sql = """
            SELECT h.ledger_head, h.links_head, h.erasures_head,
                   o.id, o.name, o.granular_opt_outs, o.default_region, o.brand_name, o.brand_logo_url, o.brand_color, d.id,
                   EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.org_id = o.id AND w.enabled AND w.deleted_at IS NULL),
                   ARRAY(SELECT l.id FROM lists l WHERE l.org_id = o.id AND l.deleted_at IS NULL AND (l.is_default OR l.id = ANY($2::bigint[])) ORDER BY l.id),
                   ARRAY(SELECT l.is_default FROM lists l WHERE l.org_id = o.id AND l.deleted_at IS NULL AND (l.is_default OR l.id = ANY($2::bigint[])) ORDER BY l.id),
                   ARRAY(SELECT l.name FROM lists l WHERE l.org_id = o.id AND l.deleted_at IS NULL AND (l.is_default OR l.id = ANY($2::bigint[])) ORDER BY l.id),
                   ARRAY(SELECT l.channels FROM lists l WHERE l.org_id = o.id AND l.deleted_at IS NULL AND (l.is_default OR l.id = ANY($2::bigint[])) ORDER BY l.id)
            FROM hush_append_lock() h
            LEFT JOIN organizations o ON o.id = $1::bigint
            LEFT JOIN lists d ON d.org_id = o.id AND d.is_default
            """
        let organization: Int64
        let lists: [Int64]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(organization)
            bindings.append(lists)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    /// The live row of each address (given once each), made when missing: one row of four
    /// arrays, the ids and keys of the rows this statement made, then of the rows that were
    /// there before. The insert returns the rows it made; the lookup beside it reads, in the
    /// statement's snapshot, the rows that were there before (skipped when the insert made
    /// every one): together, every address once. Arrays, not a row per address: PostgresNIO's
    /// work per row (about 3 µs) was 30 ms of a 10 000-address batch.
    ///
    /// Every lookup by a set of keys or ids here is a `LATERAL` subquery fenced with `OFFSET 0`,
    /// so it is one index probe per element whatever the planner estimates. Joined plainly, a
    /// 10 000-address batch was planned as a hash join over a sequential scan of every address
    /// (530 ms at 1.1 M addresses, growing with the table), and a plan cached while the table
    /// was small went quadratic inside an import.
    struct Addresses: PostgresPreparedStatement {
        static let sql = """
            WITH given AS (
                SELECT * FROM UNNEST($2::text[], $3::text[], $4::text[]) AS t(kind, key, display)
            ), made AS (
                INSERT INTO addresses (org_id, kind, key, display)
                SELECT $1::bigint, kind, key, display FROM given
                ON CONFLICT (org_id, key) WHERE erased_at IS NULL AND merged_into IS NULL DO NOTHING
                RETURNING id, key
            ), found AS (
                SELECT a.id, g.key FROM given g, LATERAL (
                    SELECT a.id FROM addresses a
                    WHERE a.org_id = $1::bigint AND a.key = g.key AND a.erased_at IS NULL AND a.merged_into IS NULL OFFSET 0
                ) a
                WHERE (SELECT COUNT(*) FROM made) < cardinality($3::text[])
            )
            SELECT m.ids, m.keys, f.ids, f.keys
            FROM (SELECT COALESCE(array_agg(id), '{}'::bigint[]) AS ids, COALESCE(array_agg(key), '{}'::text[]) AS keys FROM made) m,
                 (SELECT COALESCE(array_agg(id), '{}'::bigint[]) AS ids, COALESCE(array_agg(key), '{}'::text[]) AS keys FROM found) f
            """
        let organization: Int64
        let kinds: [String]
        let keys: [String]
        let displays: [String]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(organization)
            bindings.append(kinds)
            bindings.append(keys)
            bindings.append(displays)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> (made: [Int64], madeKeys: [String], found: [Int64], foundKeys: [String]) {
            try row.decode(([Int64], [String], [Int64], [String]).self)
        }
    }

    /// Of the address rows numbered `low...high`, those a ledger event or a contact link has
    /// named since `since` (a row may appear more than once). Given the range of rows made
    /// before the append lock (`PreparedAddresses`), the caller keeps those it made: rows
    /// someone named since are no longer new. A range, not the set of ids: a custom plan for a
    /// 10 000-element array cost 17 ms of planning alone, and the rows since are few.
    struct Named: PostgresPreparedStatement {
        static let sql = """
            SELECT ARRAY(
                SELECT l.address_id FROM ledger l WHERE l.seq > $1::bigint AND l.address_id BETWEEN $3::bigint AND $4::bigint
                UNION ALL
                SELECT c.address_id FROM contact_links c WHERE c.id > $2::bigint AND c.address_id BETWEEN $3::bigint AND $4::bigint)
            """
        let since: FeedPosition
        let ids: ClosedRange<Int64>

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(since.ledger)
            bindings.append(since.links)
            bindings.append(ids.lowerBound)
            bindings.append(ids.upperBound)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> [Int64] {
            try row.decode([Int64].self)
        }
    }

    /// Parallel columns of suppression keys, for an `UNNEST` join.
    struct KeyColumns {
        var ids: [Int64] = []
        var channels: [String] = []
        var lists: [Int64] = []
        var scopes: [String] = []

        mutating func append(_ id: Int64, _ plan: PlannedOptOut) {
            ids.append(id)
            channels.append(plan.channel.rawValue)
            lists.append(plan.list.id.rawValue)
            scopes.append(plan.optOut.scope.path)
        }

        func bind(into bindings: inout PostgresBindings) {
            bindings.append(ids)
            bindings.append(channels)
            bindings.append(lists)
            bindings.append(scopes)
        }
    }

    /// The contacts linked to `linkedAddresses` (part 0, in link order), and the suppressions
    /// in force (part 1) among the keys of addresses, of the contacts linked to addresses, and
    /// of contacts: `part, link id, address_id, contact_id, external_id or subject_key,
    /// channel, list_id, scope, since, source, event_seq, hold`.
    struct LinksAndSuppressions: PostgresPreparedStatement {
        private static let suppressionColumns =
            "s.address_id, s.contact_id, s.subject_key, s.channel, s.list_id, s.scope, s.since, s.source, s.event_seq, s.hold"
        static let sql = """
            SELECT 0, x.link, x.address_id, x.contact_id, x.external_id,
                   NULL::text, NULL::bigint, NULL::text, NULL::bigint, NULL::text, NULL::bigint, NULL::boolean
            FROM UNNEST($1::bigint[]) AS v(id), LATERAL (
                SELECT l.id AS link, l.address_id, c.id AS contact_id, c.external_id
                FROM contact_links l JOIN contacts c ON c.id = l.contact_id WHERE l.address_id = v.id OFFSET 0
            ) x
            UNION ALL
            SELECT 1, 0, s.* FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::text[]) AS v(id, channel, list_id, scope), LATERAL (
                SELECT \(suppressionColumns)
                FROM suppressions s
                WHERE s.address_id = v.id AND s.channel = v.channel AND s.list_id = v.list_id AND s.scope = v.scope OFFSET 0
            ) s
            UNION ALL
            SELECT 1, 0, s.* FROM UNNEST($6::bigint[], $7::text[], $8::bigint[], $9::text[]) AS v(id, channel, list_id, scope), LATERAL (
                SELECT \(suppressionColumns)
                FROM contact_links l JOIN suppressions s ON s.contact_id = l.contact_id
                WHERE l.address_id = v.id AND s.channel = v.channel AND s.list_id = v.list_id AND s.scope = v.scope OFFSET 0
            ) s
            UNION ALL
            SELECT 1, 0, s.* FROM UNNEST($10::bigint[], $11::text[], $12::bigint[], $13::text[]) AS v(id, channel, list_id, scope), LATERAL (
                SELECT \(suppressionColumns)
                FROM suppressions s
                WHERE s.contact_id = v.id AND s.channel = v.channel AND s.list_id = v.list_id AND s.scope = v.scope OFFSET 0
            ) s
            ORDER BY 1, 2
            """
        let linkedAddresses: [Int64]
        let byAddress: KeyColumns
        let viaLinks: KeyColumns
        let byContact: KeyColumns

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 13)
            bindings.append(linkedAddresses)
            byAddress.bind(into: &bindings)
            viaLinks.bind(into: &bindings)
            byContact.bind(into: &bindings)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    /// Appends ledger events, suppressions and evidence, notifies the other nodes and returns,
    /// among `counted` (addresses that existed before), those now over `limit`: the statement's
    /// snapshot predates its own inserts, so each address's `gained` rows are added. Every
    /// position in `rows` is moved by `offset` (rows worked out before the append lock,
    /// `WrittenAhead`; 0 for the others).
    struct Append: PostgresPreparedStatement {
        static let sql = """
            WITH events AS (
                INSERT INTO ledger (seq, org_id, kind, recorded_at, address_id, contact_id, channel, scope, list_id, source, actor, hold)
                SELECT s + $21::bigint, $1::bigint, 'opt_out', $2::bigint, NULLIF(a, 0), NULLIF(c, 0), ch, sc, li, so, ac, h
                FROM UNNEST($3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::boolean[])
                     AS t(s, a, c, ch, sc, li, so, ac, h)
            ), suppressed AS (
                INSERT INTO suppressions (org_id, address_id, contact_id, subject_key, channel, list_id, scope, since, source, event_seq, hold)
                SELECT $1::bigint, NULLIF(a, 0), NULLIF(c, 0), k, ch, li, sc, $2::bigint, so, s + $21::bigint, h
                FROM UNNEST($3::bigint[], $4::bigint[], $5::bigint[], $12::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $11::boolean[],
                            $19::boolean[])
                     AS t(s, a, c, k, ch, sc, li, so, h, projected)
                WHERE projected
            ), proven AS (
                INSERT INTO evidence (event_seq, json, via_address_id)
                SELECT s + $21::bigint, j, NULLIF(v, 0) FROM UNNEST($13::bigint[], $14::text[], $22::bigint[]) AS t(s, j, v)
            )
            SELECT ARRAY(SELECT v.id FROM UNNEST($15::bigint[], $16::bigint[]) AS v(id, gained)
                         WHERE v.gained + (SELECT COUNT(*) FROM (SELECT 1 FROM suppressions s WHERE s.address_id = v.id LIMIT $17::bigint + 1) x)
                               > $17::bigint)
            FROM pg_notify($18::text, $20::text)
            """
        let organization: Int64
        let now: Int64
        let rows: Rows
        let counted: [Int64]
        let gained: [Int64]
        let limit: Int64
        /// The notification's payload: the writing store's `PostgresDatabase.instance`.
        let instance: String
        var offset: Int64 = 0

        /// The written rows' columns, filled in one pass over them.
        struct Rows {
            var sequences: [Int64] = []
            var addresses: [Int64] = []
            var contacts: [Int64] = []
            var channels: [String] = []
            var scopes: [String] = []
            var lists: [Int64] = []
            var sources: [String] = []
            var actors: [String] = []
            var holds: [Bool] = []
            var keys: [String] = []
            /// Whether the row goes into the projection (`OptOutWrites.isProjected`).
            var projected: [Bool] = []
            var evidenceSequences: [Int64] = []
            var evidence: [String] = []
            /// The address each evidence row came through (`ViaAddress`), 0 for none.
            var evidenceVia: [Int64] = []

            init(capacity: Int) {
                sequences.reserveCapacity(capacity)
                addresses.reserveCapacity(capacity)
                contacts.reserveCapacity(capacity)
                channels.reserveCapacity(capacity)
                scopes.reserveCapacity(capacity)
                lists.reserveCapacity(capacity)
                sources.reserveCapacity(capacity)
                actors.reserveCapacity(capacity)
                holds.reserveCapacity(capacity)
                keys.reserveCapacity(capacity)
                projected.reserveCapacity(capacity)
            }

            mutating func append(_ target: StoredTarget, _ plan: PlannedOptOut, sequence: Int64, projected isProjected: Bool) throws {
                projected.append(isProjected)
                sequences.append(sequence)
                addresses.append(target.addressID ?? 0)
                contacts.append(target.contactID ?? 0)
                channels.append(plan.channel.rawValue)
                scopes.append(plan.optOut.scope.path)
                lists.append(plan.list.id.rawValue)
                sources.append(plan.optOut.source.rawValue)
                actors.append(plan.optOut.actor)
                holds.append(plan.optOut.hold)
                keys.append(target.key)
                if !plan.optOut.evidence.isEmpty {
                    evidenceSequences.append(sequence)
                    evidence.append(try StoredCoding.json(plan.optOut.evidence))
                    evidenceVia.append(target.viaAddressID ?? 0)
                }
            }
        }

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 22)
            bindings.append(organization)
            bindings.append(now)
            bindings.append(rows.sequences)
            bindings.append(rows.addresses)
            bindings.append(rows.contacts)
            bindings.append(rows.channels)
            bindings.append(rows.scopes)
            bindings.append(rows.lists)
            bindings.append(rows.sources)
            bindings.append(rows.actors)
            bindings.append(rows.holds)
            bindings.append(rows.keys)
            bindings.append(rows.evidenceSequences)
            bindings.append(rows.evidence)
            bindings.append(counted)
            bindings.append(gained)
            bindings.append(limit)
            bindings.append(PostgresStore.changesChannel)
            bindings.append(rows.projected)
            bindings.append(instance)
            bindings.append(offset)
            bindings.append(rows.evidenceVia)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> [Int64] {
            try row.decode([Int64].self)
        }
    }
}
