extension PostgresSchema {
    /// SQLite's v11: CRM connectors, their records and the addresses records carry, reviews, a log.
    static let v4: [String] = [
        """
        CREATE TABLE connectors (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            name text NOT NULL,
            definition text NOT NULL,
            secret text NOT NULL,
            state text NOT NULL DEFAULT '',
            lease_owner text,
            lease_until bigint,
            created_at bigint NOT NULL,
            deleted_at bigint
        )
        """,
        "CREATE UNIQUE INDEX connectors_name ON connectors(org_id, name) WHERE deleted_at IS NULL",
        """
        CREATE TABLE crm_records (
            connector_id bigint NOT NULL REFERENCES connectors(id),
            entity text NOT NULL,
            record_id text NOT NULL,
            version text,
            fields text NOT NULL,
            addresses text NOT NULL,
            deleted boolean NOT NULL DEFAULT false,
            linked boolean NOT NULL DEFAULT true,
            push_due_at bigint,
            attempts integer NOT NULL DEFAULT 0,
            kept text NOT NULL DEFAULT '',
            PRIMARY KEY (connector_id, entity, record_id)
        )
        """,
        "CREATE INDEX crm_records_due ON crm_records(connector_id, push_due_at) WHERE push_due_at IS NOT NULL",
        """
        CREATE TABLE crm_record_addresses (
            connector_id bigint NOT NULL,
            address text NOT NULL,
            entity text NOT NULL,
            record_id text NOT NULL,
            PRIMARY KEY (connector_id, entity, record_id, address)
        )
        """,
        "CREATE INDEX crm_record_addresses_lookup ON crm_record_addresses(connector_id, address)",
        "CREATE INDEX crm_record_addresses_address ON crm_record_addresses(address)",
        """
        CREATE TABLE crm_log (
            id bigserial PRIMARY KEY,
            connector_id bigint NOT NULL,
            at bigint NOT NULL,
            kind text NOT NULL,
            message text NOT NULL
        )
        """,
        "CREATE INDEX crm_log_connector ON crm_log(connector_id, id)",
        """
        CREATE TABLE crm_reviews (
            id bigserial PRIMARY KEY,
            org_id bigint NOT NULL REFERENCES organizations(id),
            connector_id bigint NOT NULL,
            entity text NOT NULL,
            record_id text NOT NULL,
            field text NOT NULL,
            crm_user text,
            changed_at bigint,
            contact text NOT NULL,
            status text NOT NULL,
            reasserted boolean NOT NULL,
            created_at bigint NOT NULL
        )
        """,
        "CREATE INDEX crm_reviews_org ON crm_reviews(org_id, id)",
    ]
}
