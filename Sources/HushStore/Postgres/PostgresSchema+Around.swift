extension PostgresSchema {
    /// v1's tables around the ledger: keys, link keys and opt-in requests, inbound messages,
    /// activities and triggers, webhooks, sends and rulesets, key fingerprints.
    static let v1Around: [String] = [
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
