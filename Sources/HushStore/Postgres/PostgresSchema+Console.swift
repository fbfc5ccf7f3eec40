extension PostgresSchema {
    /// Console users, their sessions and scopes' display names, and the overview's counters
    /// (SQLite v12). The counters are kept by statement triggers over transition tables, so a
    /// bulk import adds one grouped upsert, not one per row.
    static let v5: [String] = [
        // Nodes still on v4 append meanwhile: the counters are filled and their triggers made
        // under the append lock, so no write falls between the two.
        "SELECT pg_advisory_xact_lock(\(appendLock))",
        """
        CREATE TABLE console_users (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            email text NOT NULL UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
            role text NOT NULL CHECK (role IN ('admin', 'member')),
            password_hash text NOT NULL,
            created_at bigint NOT NULL,
            disabled_at bigint,
            last_sign_in_at bigint
        )
        """,
        "CREATE INDEX console_users_org ON console_users(org_id, id)",
        """
        CREATE TABLE console_sessions (
            token_hash text PRIMARY KEY,
            user_id bigint NOT NULL REFERENCES console_users(id),
            created_at bigint NOT NULL,
            expires_at bigint NOT NULL
        )
        """,
        "CREATE INDEX console_sessions_user ON console_sessions(user_id)",
        "CREATE INDEX console_sessions_expiry ON console_sessions(expires_at)",
        """
        CREATE TABLE scope_names (
            org_id bigint NOT NULL REFERENCES organizations(id),
            path text NOT NULL,
            name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
            PRIMARY KEY (org_id, path)
        )
        """,
        """
        CREATE TABLE ledger_daily (
            org_id bigint NOT NULL,
            day bigint NOT NULL,
            kind text NOT NULL,
            channel text NOT NULL,
            source text NOT NULL,
            events bigint NOT NULL,
            PRIMARY KEY (org_id, day, kind, channel, source)
        )
        """,
        """
        INSERT INTO ledger_daily (org_id, day, kind, channel, source, events)
        SELECT org_id, recorded_at / 86400000, kind, channel, source, count(*) FROM ledger GROUP BY 1, 2, 3, 4, 5
        """,
        """
        CREATE FUNCTION hush_count_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO ledger_daily (org_id, day, kind, channel, source, events)
            SELECT org_id, recorded_at / 86400000, kind, channel, source, count(*) FROM appended GROUP BY 1, 2, 3, 4, 5
            ON CONFLICT (org_id, day, kind, channel, source) DO UPDATE SET events = ledger_daily.events + excluded.events;
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER ledger_daily_count AFTER INSERT ON ledger REFERENCING NEW TABLE AS appended
        FOR EACH STATEMENT EXECUTE FUNCTION hush_count_ledger()
        """,
        """
        CREATE TABLE suppression_counts (
            org_id bigint NOT NULL,
            list_id bigint NOT NULL,
            channel text NOT NULL,
            suppressions bigint NOT NULL,
            PRIMARY KEY (org_id, list_id, channel)
        )
        """,
        """
        INSERT INTO suppression_counts (org_id, list_id, channel, suppressions)
        SELECT org_id, list_id, channel, count(*) FROM suppressions GROUP BY 1, 2, 3
        """,
        """
        CREATE FUNCTION hush_count_suppressions() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO suppression_counts (org_id, list_id, channel, suppressions)
                SELECT org_id, list_id, channel, count(*) FROM changed GROUP BY 1, 2, 3
                ON CONFLICT (org_id, list_id, channel) DO UPDATE SET suppressions = suppression_counts.suppressions + excluded.suppressions;
            ELSE
                UPDATE suppression_counts c SET suppressions = c.suppressions - d.removed
                FROM (SELECT org_id, list_id, channel, count(*) AS removed FROM changed GROUP BY 1, 2, 3) d
                WHERE c.org_id = d.org_id AND c.list_id = d.list_id AND c.channel = d.channel;
            END IF;
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER suppression_counts_insert AFTER INSERT ON suppressions REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION hush_count_suppressions()
        """,
        """
        CREATE TRIGGER suppression_counts_delete AFTER DELETE ON suppressions REFERENCING OLD TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION hush_count_suppressions()
        """,
    ]
}
