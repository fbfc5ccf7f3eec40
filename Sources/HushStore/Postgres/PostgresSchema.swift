import Logging
import PostgresNIO

/// The PostgreSQL schema: the same tables, columns and constraints as SQLite's after its last
/// migration, in PostgreSQL's types (flags are `boolean`, times unix milliseconds in `bigint`).
/// Migrations are append-only and run at start under an advisory lock, so nodes that start at
/// once migrate once; each is recorded in `hush_migrations`.
enum PostgresSchema {
    /// The advisory lock migrations run under (any number that no other lock of Hush's uses).
    static let migrationLock: Int64 = 0x4855_5348_0001
    /// The advisory lock every ledger, contact-link and erasure append takes from allocating its
    /// position to commit: the ordering contract (see `ChangeFeed`).
    static let appendLock: Int64 = 0x4855_5348_0002
    /// The advisory lock the history pruner holds while it prunes: one node at a time.
    static let pruneLock: Int64 = 0x4855_5348_0003

    static let migrations: [(name: String, sql: [String])] = [
        ("v1: the schema of SQLite v10", v1),
        ("v2: hush_append_lock(), the append lock and the heads in one round trip", v2),
        ("v3: address keys compared bytewise; erased and merged rows indexed apart", v3),
        ("v4: CRM connectors, their records, reviews and log (SQLite v11)", v4),
        ("v5: console users, their sessions, scope names (SQLite v12)", v5),
        ("v6: imports staged before their commit", v6),
        ("v7: one row of a suppression under an erased address's hash", [ErasureMerge.repair]),
        ("v8: inbound messages found by their provider's id (SQLite v16)", [
            "CREATE INDEX inbound_messages_provider ON inbound_messages(org_id, provider_message_id) WHERE provider_message_id IS NOT NULL",
        ]),
        ("v9: the evidence of a contact's event names the address it came through (SQLite v17)", [
            "ALTER TABLE evidence ADD COLUMN via_address_id bigint",
            "CREATE INDEX evidence_via ON evidence(via_address_id) WHERE via_address_id IS NOT NULL",
            ViaAddress.backfill,
            ViaAddress.backfillOutbox,
            ViaAddress.erasedAnnouncements(set: #"(data::jsonb || '{"evidence": {}}'::jsonb)::text"#),
            ViaAddress.scrubErased,
        ]),
    ]

    /// Applies the migrations not yet applied, once, whichever node gets the lock first.
    static func migrate(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_lock(\(migrationLock))", logger: logger)
        do {
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS hush_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var applied = Set<String>()
            for try await name in try await connection.query("SELECT name FROM hush_migrations", logger: logger).decode(String.self) {
                applied.insert(name)
            }
            for migration in migrations where !applied.contains(migration.name) {
                try await connection.query("BEGIN", logger: logger)
                do {
                    for statement in migration.sql {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("INSERT INTO hush_migrations (name) VALUES (\(migration.name))", logger: logger)
                    try await connection.query("COMMIT", logger: logger)
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
                logger.info("migrated the PostgreSQL database", metadata: ["migration": "\(migration.name)"])
            }
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
            throw error
        }
        try await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
    }

    // One statement per element: the extended protocol runs one at a time.
    //
    // The tables every opt-out appends to (addresses, ledger, evidence, suppressions) carry no
    // foreign keys: a key checked on every row more than doubled the cost of a batch (measured:
    // 440 ms against 180 ms for 10 000 rows across the three). Their rows are written only by
    // the store, in the transaction that made the organization, list, address or contact they
    // name, and the ledger can neither change nor lose a row, so nothing a key would catch can
    // happen. The other tables keep theirs.
    private static let v1: [String] = v1Ledger + v1Around

    /// Address keys are normalized addresses or hashes, compared for equality only: bytewise
    /// (`COLLATE "C"`) rather than by the database's locale, which costs a `strcoll` per
    /// comparison in every index descent. The live key is unique (`addresses_live_key`); erased
    /// and merged rows get an index of their own instead of a second index over every row,
    /// which cost each new address a third index insertion (measured: ~35 % of a batch's
    /// address statement). The last foreign key on an append table goes too (see v1's note):
    /// its trigger ran for every new address, though nothing on PostgreSQL merges addresses.
    private static let v3: [String] = [
        "DROP INDEX addresses_key",
        "ALTER TABLE addresses DROP CONSTRAINT addresses_merged_into_fkey",
        #"ALTER TABLE addresses ALTER COLUMN key TYPE text COLLATE "C""#,
        "CREATE INDEX addresses_retired_key ON addresses(org_id, key) WHERE erased_at IS NOT NULL OR merged_into IS NOT NULL",
    ]

    /// Takes the append lock and reads the heads after it is held, in one statement. A plain
    /// statement that took the lock and read the heads would read them in a snapshot taken
    /// before its lock wait, missing what committed meanwhile; a volatile function's statements
    /// each take a fresh snapshot, so the heads are read after the wait.
    private static let v2: [String] = ["""
        CREATE FUNCTION hush_append_lock(OUT ledger_head bigint, OUT links_head bigint, OUT erasures_head bigint)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(\(appendLock));
            SELECT COALESCE(MAX(seq), 0) INTO ledger_head FROM ledger;
            SELECT COALESCE(MAX(id), 0) INTO links_head FROM contact_links;
            SELECT COALESCE(MAX(id), 0) INTO erasures_head FROM erasures;
        END
        $$
        """]

    /// v1's organizations, lists, addresses, contacts, the ledger, its projection and erasures.
    private static let v1Ledger: [String] = [
        """
        CREATE TABLE organizations (
            id bigserial PRIMARY KEY,
            name text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 64),
            granular_opt_outs boolean NOT NULL DEFAULT false,
            default_region text CHECK (default_region IS NULL OR char_length(default_region) = 2),
            brand_name text,
            brand_logo_url text,
            brand_color text,
            created_at bigint NOT NULL
        )
        """,
        """
        CREATE TABLE lists (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 50),
            description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 300),
            message text CHECK (message IS NULL OR char_length(message) BETWEEN 1 AND 300),
            webhook_url text,
            channels text NOT NULL,
            is_default boolean NOT NULL DEFAULT false,
            public boolean NOT NULL DEFAULT true,
            created_at bigint NOT NULL,
            deleted_at bigint,
            CHECK (NOT is_default OR deleted_at IS NULL)
        )
        """,
        "CREATE UNIQUE INDEX lists_active_name ON lists(org_id, name) WHERE deleted_at IS NULL",
        "CREATE UNIQUE INDEX lists_one_default ON lists(org_id) WHERE is_default",
        """
        CREATE FUNCTION hush_default_list_is_kept() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.is_default AND NEW.deleted_at IS NOT NULL THEN
                RAISE EXCEPTION 'the default list cannot be deleted';
            END IF;
            RETURN NEW;
        END $$
        """,
        """
        CREATE TRIGGER lists_default_is_kept BEFORE UPDATE OF deleted_at ON lists
            FOR EACH ROW EXECUTE FUNCTION hush_default_list_is_kept()
        """,
        """
        CREATE TABLE list_keywords (
            org_id bigint NOT NULL REFERENCES organizations(id),
            list_id bigint NOT NULL REFERENCES lists(id),
            keyword text NOT NULL CHECK (char_length(keyword) BETWEEN 1 AND 50),
            position integer NOT NULL,
            PRIMARY KEY (org_id, keyword)
        )
        """,
        "CREATE INDEX list_keywords_list ON list_keywords(list_id)",
        """
        CREATE TABLE list_names (
            org_id bigint NOT NULL REFERENCES organizations(id),
            name text NOT NULL,
            list_id bigint NOT NULL REFERENCES lists(id),
            PRIMARY KEY (org_id, name)
        )
        """,
        """
        CREATE TABLE addresses (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL,
            kind text NOT NULL CHECK (kind IN ('email', 'phone')),
            key text NOT NULL,
            display text,
            erased_at bigint,
            merged_into bigint REFERENCES addresses(id),
            CHECK ((erased_at IS NULL) = (display IS NOT NULL))
        )
        """,
        "CREATE UNIQUE INDEX addresses_live_key ON addresses(org_id, key) WHERE erased_at IS NULL AND merged_into IS NULL",
        "CREATE INDEX addresses_key ON addresses(org_id, key)",
        """
        CREATE TABLE contacts (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            external_id text NOT NULL CHECK (char_length(external_id) BETWEEN 1 AND 255),
            created_at bigint NOT NULL,
            UNIQUE (org_id, external_id)
        )
        """,
        """
        CREATE TABLE contact_links (
            id bigserial PRIMARY KEY,
            contact_id bigint NOT NULL REFERENCES contacts(id),
            address_id bigint NOT NULL REFERENCES addresses(id),
            linked_at bigint NOT NULL,
            UNIQUE (contact_id, address_id)
        )
        """,
        "CREATE INDEX contact_links_address ON contact_links(address_id)",
        """
        CREATE TABLE ledger (
            seq bigint PRIMARY KEY,
            org_id bigint NOT NULL,
            kind text NOT NULL CHECK (kind IN ('opt_out', 'opt_in')),
            recorded_at bigint NOT NULL,
            address_id bigint,
            contact_id bigint,
            channel text NOT NULL CHECK (channel IN ('email', 'sms', 'whatsapp', 'voice', 'all')),
            scope text NOT NULL,
            list_id bigint NOT NULL,
            source text NOT NULL CHECK (source IN ('api', 'link', 'one_click', 'preference_center',
                'keyword', 'rep', 'trigger', 'crm', 'import')),
            actor text NOT NULL,
            hold boolean NOT NULL DEFAULT false,
            CHECK ((address_id IS NULL) <> (contact_id IS NULL))
        )
        """,
        "CREATE INDEX ledger_org ON ledger(org_id, seq)",
        "CREATE INDEX ledger_address ON ledger(address_id, seq) WHERE address_id IS NOT NULL",
        "CREATE INDEX ledger_contact ON ledger(contact_id, seq) WHERE contact_id IS NOT NULL",
        """
        CREATE FUNCTION hush_ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the ledger is append-only';
        END $$
        """,
        """
        CREATE TRIGGER ledger_is_append_only BEFORE UPDATE OR DELETE ON ledger
            FOR EACH ROW EXECUTE FUNCTION hush_ledger_is_append_only()
        """,
        "CREATE TRIGGER ledger_is_append_only_truncate BEFORE TRUNCATE ON ledger EXECUTE FUNCTION hush_ledger_is_append_only()",
        """
        CREATE TABLE evidence (
            event_seq bigint PRIMARY KEY,
            json text NOT NULL
        )
        """,
        """
        CREATE TABLE suppressions (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL,
            address_id bigint,
            contact_id bigint,
            subject_key text NOT NULL,
            channel text NOT NULL CHECK (channel IN ('email', 'sms', 'whatsapp', 'voice', 'all')),
            list_id bigint NOT NULL,
            scope text NOT NULL,
            since bigint NOT NULL,
            source text NOT NULL,
            event_seq bigint NOT NULL,
            hold boolean NOT NULL DEFAULT false,
            CHECK ((address_id IS NULL) <> (contact_id IS NULL))
        )
        """,
        "CREATE UNIQUE INDEX suppressions_address ON suppressions(address_id, channel, list_id, scope) WHERE address_id IS NOT NULL",
        "CREATE UNIQUE INDEX suppressions_contact ON suppressions(contact_id, channel, list_id, scope) WHERE contact_id IS NOT NULL",
        "CREATE INDEX suppressions_list_seq ON suppressions(list_id, event_seq)",
        """
        CREATE TABLE erasures (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            erased_key text NOT NULL,
            event_seqs text NOT NULL,
            contact_ids text NOT NULL,
            erased_at bigint NOT NULL
        )
        """,
    ]
}
