extension SQLiteSchema {
    /// CRM connectors (settings as JSON, the client secret sealed, state as JSON, a lease), what
    /// each last knew of every CRM record, the addresses records carry, reviews and a log.
    static let v11 = """
        CREATE TABLE connectors (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            name TEXT NOT NULL,
            definition TEXT NOT NULL,
            secret TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT '',
            lease_owner TEXT,
            lease_until INTEGER,
            created_at INTEGER NOT NULL,
            deleted_at INTEGER
        );
        CREATE UNIQUE INDEX connectors_name ON connectors(org_id, name) WHERE deleted_at IS NULL;
        CREATE TABLE crm_records (
            connector_id INTEGER NOT NULL REFERENCES connectors(id),
            entity TEXT NOT NULL,
            record_id TEXT NOT NULL,
            version TEXT,
            fields TEXT NOT NULL,
            addresses TEXT NOT NULL,
            deleted INTEGER NOT NULL DEFAULT 0,
            linked INTEGER NOT NULL DEFAULT 1,
            push_due_at INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            kept TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (connector_id, entity, record_id)
        ) WITHOUT ROWID;
        CREATE INDEX crm_records_due ON crm_records(connector_id, push_due_at) WHERE push_due_at IS NOT NULL;
        CREATE TABLE crm_record_addresses (
            connector_id INTEGER NOT NULL,
            address TEXT NOT NULL,
            entity TEXT NOT NULL,
            record_id TEXT NOT NULL,
            PRIMARY KEY (connector_id, entity, record_id, address)
        ) WITHOUT ROWID;
        CREATE INDEX crm_record_addresses_lookup ON crm_record_addresses(connector_id, address);
        CREATE INDEX crm_record_addresses_address ON crm_record_addresses(address);
        CREATE TABLE crm_log (
            id INTEGER PRIMARY KEY,
            connector_id INTEGER NOT NULL,
            at INTEGER NOT NULL,
            kind TEXT NOT NULL,
            message TEXT NOT NULL
        );
        CREATE INDEX crm_log_connector ON crm_log(connector_id, id);
        CREATE TABLE crm_reviews (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            connector_id INTEGER NOT NULL,
            entity TEXT NOT NULL,
            record_id TEXT NOT NULL,
            field TEXT NOT NULL,
            crm_user TEXT,
            changed_at INTEGER,
            contact TEXT NOT NULL,
            status TEXT NOT NULL,
            reasserted INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX crm_reviews_org ON crm_reviews(org_id, id);
        """
}
