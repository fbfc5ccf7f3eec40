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
    private static let v1: [String] = [
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
        """
        CREATE TABLE api_keys (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            hash text NOT NULL UNIQUE CHECK (char_length(hash) = 64),
            display_prefix text NOT NULL,
            role text NOT NULL CHECK (role IN ('admin', 'member', 'inbound')),
            created_at bigint NOT NULL,
            revoked_at bigint,
            last_used_at bigint
        )
        """,
        "CREATE INDEX api_keys_org ON api_keys(org_id)",
        "CREATE INDEX api_keys_revoked ON api_keys(revoked_at) WHERE revoked_at IS NOT NULL",
        """
        CREATE TABLE link_keys (
            id text PRIMARY KEY,
            secret bytea NOT NULL,
            created_at bigint NOT NULL,
            retired_at bigint
        )
        """,
        """
        CREATE TABLE opt_in_requests (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            address text NOT NULL,
            contact text,
            channel text NOT NULL,
            scope text NOT NULL,
            list_id bigint NOT NULL REFERENCES lists(id),
            requested_by text NOT NULL,
            created_at bigint NOT NULL,
            confirmed_at bigint,
            confirmed_event bigint,
            expires_at bigint
        )
        """,
        "CREATE INDEX opt_in_requests_org ON opt_in_requests(org_id, id)",
        """
        CREATE INDEX opt_in_requests_pending ON opt_in_requests(org_id, address, channel, scope, list_id)
            WHERE confirmed_at IS NULL
        """,
        """
        CREATE TABLE opt_in_request_lifts (
            request_id bigint NOT NULL REFERENCES opt_in_requests(id),
            event_seq bigint NOT NULL,
            PRIMARY KEY (request_id, event_seq)
        )
        """,
        """
        CREATE TABLE inbound_settings (
            org_id bigint PRIMARY KEY REFERENCES organizations(id),
            opt_out_keywords text,
            opt_in_keywords text,
            help_keywords text,
            help_text text,
            twilio_auth_token text
        )
        """,
        """
        CREATE TABLE inbound_messages (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            channel text NOT NULL,
            sender text NOT NULL,
            recipient text NOT NULL,
            body text NOT NULL,
            provider_message_id text,
            received_at bigint NOT NULL,
            result text NOT NULL,
            keyword text,
            replied_at bigint,
            review text CHECK (review IN ('pending', 'opt_out', 'ignore'))
        )
        """,
        "CREATE INDEX inbound_messages_sender ON inbound_messages(org_id, sender, id)",
        "CREATE INDEX inbound_messages_review ON inbound_messages(org_id, id) WHERE review = 'pending'",
        """
        CREATE TABLE provider_messages (
            org_id bigint NOT NULL REFERENCES organizations(id),
            provider_message_id text NOT NULL,
            received_at bigint NOT NULL,
            PRIMARY KEY (org_id, provider_message_id)
        )
        """,
        "CREATE INDEX provider_messages_age ON provider_messages(received_at)",
        """
        CREATE TABLE activities (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            type text NOT NULL,
            address text NOT NULL,
            disposition text NOT NULL,
            scope text NOT NULL,
            occurred_at bigint NOT NULL,
            actor text NOT NULL
        )
        """,
        "CREATE INDEX activities_org ON activities(org_id, id)",
        """
        CREATE TABLE triggers (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            definition text NOT NULL,
            created_at bigint NOT NULL,
            deleted_at bigint
        )
        """,
        "CREATE INDEX triggers_org ON triggers(org_id) WHERE deleted_at IS NULL",
        """
        CREATE TABLE webhook_endpoints (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            url text NOT NULL,
            events text NOT NULL,
            lists text,
            enabled boolean NOT NULL,
            secrets text NOT NULL,
            disabled_reason text,
            owner_list bigint REFERENCES lists(id),
            created_at bigint NOT NULL,
            deleted_at bigint
        )
        """,
        "CREATE INDEX webhook_endpoints_org ON webhook_endpoints(org_id) WHERE deleted_at IS NULL",
        "CREATE UNIQUE INDEX webhook_endpoints_owner_list ON webhook_endpoints(owner_list) WHERE deleted_at IS NULL",
        """
        CREATE TABLE webhook_outbox (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            kind text NOT NULL,
            ledger_seq bigint,
            list_id bigint,
            address_id bigint,
            occurred_at bigint NOT NULL,
            data text NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX webhook_outbox_ledger ON webhook_outbox(ledger_seq) WHERE ledger_seq IS NOT NULL",
        "CREATE INDEX webhook_outbox_address ON webhook_outbox(address_id) WHERE address_id IS NOT NULL",
        "CREATE INDEX webhook_outbox_age ON webhook_outbox(occurred_at)",
        """
        CREATE TABLE webhook_deliveries (
            id bigserial PRIMARY KEY,
            endpoint_id bigint NOT NULL REFERENCES webhook_endpoints(id),
            outbox_id bigint NOT NULL REFERENCES webhook_outbox(id),
            status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'dead')),
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at bigint NOT NULL,
            leased_until bigint,
            leased_by text,
            last_attempt_at bigint,
            response_status integer,
            response_body text,
            error text,
            created_at bigint NOT NULL,
            finished_at bigint
        )
        """,
        "CREATE INDEX webhook_deliveries_queue ON webhook_deliveries(endpoint_id, id) WHERE status = 'pending'",
        // Leases in force, per endpoint: what a claim checks before it takes an endpoint.
        "CREATE INDEX webhook_deliveries_leased ON webhook_deliveries(endpoint_id, leased_until) WHERE status = 'pending' AND leased_until IS NOT NULL",
        "CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id)",
        "CREATE INDEX webhook_deliveries_finished ON webhook_deliveries(finished_at) WHERE status <> 'pending'",
        "CREATE INDEX webhook_deliveries_event ON webhook_deliveries(outbox_id)",
        """
        CREATE TABLE sends (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            name text,
            campaign text,
            channel text NOT NULL,
            scope text NOT NULL,
            lists text NOT NULL,
            total bigint NOT NULL,
            allowed bigint NOT NULL,
            blocked bigint NOT NULL,
            invalid bigint NOT NULL,
            actor text NOT NULL,
            created_at bigint NOT NULL,
            complete boolean NOT NULL DEFAULT false
        )
        """,
        "CREATE INDEX sends_org ON sends(org_id, id) WHERE complete",
        """
        CREATE TABLE send_reports (
            send_id bigint NOT NULL REFERENCES sends(id),
            status text NOT NULL CHECK (status IN ('allowed', 'blocked', 'invalid')),
            chunk integer NOT NULL,
            first_position bigint NOT NULL,
            last_position bigint NOT NULL,
            count integer NOT NULL,
            entries bytea NOT NULL,
            PRIMARY KEY (send_id, status, chunk)
        )
        """,
        """
        CREATE TABLE rulesets (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            name text NOT NULL,
            on_opt_out text NOT NULL CHECK (on_opt_out IN ('skip_steps', 'finish')),
            opted_out_stage text NOT NULL,
            created_at bigint NOT NULL,
            deleted_at bigint
        )
        """,
        "CREATE UNIQUE INDEX rulesets_active_name ON rulesets(org_id, name) WHERE deleted_at IS NULL",
        // What the shared keys look like (an HMAC of a constant, and a constant sealed), so a node
        // started with other keys than the first one stops instead of hashing or sealing apart.
        """
        CREATE TABLE key_fingerprints (
            name text PRIMARY KEY,
            fingerprint text NOT NULL
        )
        """,
    ]
}
