extension SQLiteSchema {
    // What the security review asked for. Provider message ids are remembered so a replayed
    // webhook changes nothing; a held suppression is lifted only by an admin; an opt-in request
    // lifts at most the suppressions it saw when it was made, until it expires; keys may be
    // `inbound` and record when they were last used; a list keeps its former names; links show
    // only public lists; a link key can be retired.
    static let v9 = """
        CREATE TABLE provider_messages (
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            provider_message_id TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            PRIMARY KEY (org_id, provider_message_id)
        ) WITHOUT ROWID;
        CREATE INDEX provider_messages_age ON provider_messages(received_at);

        ALTER TABLE ledger ADD COLUMN hold INTEGER NOT NULL DEFAULT 0 CHECK (hold IN (0, 1));
        ALTER TABLE suppressions ADD COLUMN hold INTEGER NOT NULL DEFAULT 0 CHECK (hold IN (0, 1));

        ALTER TABLE opt_in_requests ADD COLUMN expires_at INTEGER;
        CREATE TABLE opt_in_request_lifts (
            request_id INTEGER NOT NULL REFERENCES opt_in_requests(id),
            event_seq INTEGER NOT NULL,
            PRIMARY KEY (request_id, event_seq)
        ) WITHOUT ROWID;
        CREATE INDEX opt_in_requests_pending ON opt_in_requests(org_id, address, channel, scope, list_id)
            WHERE confirmed_at IS NULL;

        CREATE TABLE api_keys_v9 (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            hash TEXT NOT NULL UNIQUE CHECK (length(hash) = 64),
            display_prefix TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'inbound')),
            created_at INTEGER NOT NULL,
            revoked_at INTEGER,
            last_used_at INTEGER
        );
        INSERT INTO api_keys_v9 (id, org_id, hash, display_prefix, role, created_at, revoked_at)
            SELECT id, org_id, hash, display_prefix, role, created_at, revoked_at FROM api_keys;
        DROP TABLE api_keys;
        ALTER TABLE api_keys_v9 RENAME TO api_keys;
        CREATE INDEX api_keys_org ON api_keys(org_id);
        CREATE INDEX api_keys_revoked ON api_keys(revoked_at) WHERE revoked_at IS NOT NULL;

        ALTER TABLE lists ADD COLUMN public INTEGER NOT NULL DEFAULT 1 CHECK (public IN (0, 1));
        CREATE TABLE list_names (
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            name TEXT NOT NULL,
            list_id INTEGER NOT NULL REFERENCES lists(id),
            PRIMARY KEY (org_id, name)
        ) WITHOUT ROWID;

        ALTER TABLE link_keys ADD COLUMN retired_at INTEGER;

        -- CTIA's words act for the whole organization and are no list's keyword any more.
        DELETE FROM list_keywords WHERE upper(trim(keyword)) IN
            ('STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'START', 'UNSTOP');
        """
}
