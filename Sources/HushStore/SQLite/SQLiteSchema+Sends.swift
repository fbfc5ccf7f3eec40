extension SQLiteSchema {
    // Webhooks. Endpoints hold their secrets (newest first, as JSON) because every delivery is
    // signed with them. The outbox holds each announced event once, written in the transaction
    // that made the change; a delivery is one event for one endpoint, created in that same
    // transaction, so delivery ids follow the ledger and each endpoint is sent to in their order. A list's `webhook_url` is an endpoint with `owner_list` set.
    static let v7 = """
        CREATE TABLE webhook_endpoints (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            url TEXT NOT NULL,
            events TEXT NOT NULL,
            lists TEXT,
            enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
            secrets TEXT NOT NULL,
            disabled_reason TEXT,
            owner_list INTEGER REFERENCES lists(id),
            created_at INTEGER NOT NULL,
            deleted_at INTEGER
        );
        CREATE INDEX webhook_endpoints_org ON webhook_endpoints(org_id) WHERE deleted_at IS NULL;
        CREATE UNIQUE INDEX webhook_endpoints_owner_list ON webhook_endpoints(owner_list) WHERE deleted_at IS NULL;

        CREATE TABLE webhook_outbox (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            kind TEXT NOT NULL,
            ledger_seq INTEGER,
            list_id INTEGER,
            address_id INTEGER,
            occurred_at INTEGER NOT NULL,
            data TEXT NOT NULL
        );
        CREATE UNIQUE INDEX webhook_outbox_ledger ON webhook_outbox(ledger_seq) WHERE ledger_seq IS NOT NULL;
        CREATE INDEX webhook_outbox_address ON webhook_outbox(address_id) WHERE address_id IS NOT NULL;

        CREATE TABLE webhook_deliveries (
            id INTEGER PRIMARY KEY,
            endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id),
            outbox_id INTEGER NOT NULL REFERENCES webhook_outbox(id),
            status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NOT NULL,
            leased_until INTEGER,
            last_attempt_at INTEGER,
            response_status INTEGER,
            response_body TEXT,
            error TEXT,
            created_at INTEGER NOT NULL,
            finished_at INTEGER
        );
        -- Each endpoint's queue; the sender's queries name it (INDEXED BY), because the planner
        -- would otherwise walk every delivery the endpoint ever had.
        CREATE INDEX webhook_deliveries_queue ON webhook_deliveries(endpoint_id, id) WHERE status = 'pending';
        CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
        -- For pruning: finished deliveries by age, and the deliveries of an event.
        CREATE INDEX webhook_deliveries_finished ON webhook_deliveries(finished_at) WHERE status != 'pending';
        CREATE INDEX webhook_deliveries_event ON webhook_deliveries(outbox_id);
        """

    // A send keeps its settings and counts; its report is stored as it is checked, a chunk per
    // batch of 10 000 recipients and status (the entries as JSON, each starting with its
    // position), so a million-recipient send is a few hundred rows. A send is listed once
    // `complete`; one whose request failed is removed.
    static let v8 = """
        CREATE TABLE sends (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            name TEXT,
            campaign TEXT,
            channel TEXT NOT NULL,
            scope TEXT NOT NULL,
            lists TEXT NOT NULL,
            total INTEGER NOT NULL,
            allowed INTEGER NOT NULL,
            blocked INTEGER NOT NULL,
            invalid INTEGER NOT NULL,
            actor TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            complete INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1))
        );
        CREATE INDEX sends_org ON sends(org_id, id) WHERE complete = 1;
        CREATE TABLE send_reports (
            send_id INTEGER NOT NULL REFERENCES sends(id),
            status TEXT NOT NULL CHECK (status IN ('allowed', 'blocked', 'invalid')),
            chunk INTEGER NOT NULL,
            first_position INTEGER NOT NULL,
            last_position INTEGER NOT NULL,
            count INTEGER NOT NULL,
            entries BLOB NOT NULL,
            PRIMARY KEY (send_id, status, chunk)
        ) WITHOUT ROWID;
        CREATE TABLE rulesets (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            name TEXT NOT NULL,
            on_opt_out TEXT NOT NULL CHECK (on_opt_out IN ('skip_steps', 'finish')),
            opted_out_stage TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            deleted_at INTEGER
        );
        CREATE UNIQUE INDEX rulesets_active_name ON rulesets(org_id, name) WHERE deleted_at IS NULL;
        """
}
