extension SQLiteSchema {
    /// Console users (an email is one user in the whole database), their sessions (by the
    /// token's hash) and scopes' display names; and the overview's counters, kept by triggers
    /// in the transaction of every ledger append and suppression change until v13.
    static let v12 = """
        CREATE TABLE console_users (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            email TEXT NOT NULL UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
            role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
            password_hash TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            disabled_at INTEGER,
            last_sign_in_at INTEGER
        );
        CREATE INDEX console_users_org ON console_users(org_id, id);
        CREATE TABLE console_sessions (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES console_users(id),
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX console_sessions_user ON console_sessions(user_id);
        CREATE INDEX console_sessions_expiry ON console_sessions(expires_at);
        CREATE TABLE scope_names (
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            path TEXT NOT NULL,
            name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
            PRIMARY KEY (org_id, path)
        ) WITHOUT ROWID;
        CREATE TABLE ledger_daily (
            org_id INTEGER NOT NULL,
            day INTEGER NOT NULL,
            kind TEXT NOT NULL,
            channel TEXT NOT NULL,
            source TEXT NOT NULL,
            events INTEGER NOT NULL,
            PRIMARY KEY (org_id, day, kind, channel, source)
        ) WITHOUT ROWID;
        CREATE TRIGGER ledger_daily_count AFTER INSERT ON ledger BEGIN
            INSERT INTO ledger_daily (org_id, day, kind, channel, source, events)
            VALUES (NEW.org_id, NEW.recorded_at / 86400000, NEW.kind, NEW.channel, NEW.source, 1)
            ON CONFLICT DO UPDATE SET events = events + 1;
        END;
        CREATE TABLE suppression_counts (
            org_id INTEGER NOT NULL,
            list_id INTEGER NOT NULL,
            channel TEXT NOT NULL,
            suppressions INTEGER NOT NULL,
            PRIMARY KEY (org_id, list_id, channel)
        ) WITHOUT ROWID;
        \(ConsoleCounters.recount)
        CREATE TRIGGER suppression_counts_insert AFTER INSERT ON suppressions BEGIN
            INSERT INTO suppression_counts (org_id, list_id, channel, suppressions) VALUES (NEW.org_id, NEW.list_id, NEW.channel, 1)
            ON CONFLICT DO UPDATE SET suppressions = suppressions + 1;
        END;
        CREATE TRIGGER suppression_counts_delete AFTER DELETE ON suppressions BEGIN
            UPDATE suppression_counts SET suppressions = suppressions - 1
            WHERE org_id = OLD.org_id AND list_id = OLD.list_id AND channel = OLD.channel;
        END;
        """

    /// The counters kept by `ConsoleCounters` in the writing transaction, one upsert per group,
    /// instead of a trigger's upsert per row.
    static let v13 = """
        DROP TRIGGER ledger_daily_count;
        DROP TRIGGER suppression_counts_insert;
        DROP TRIGGER suppression_counts_delete;
        """
}
