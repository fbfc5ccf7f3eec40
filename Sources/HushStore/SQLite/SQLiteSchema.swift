import GRDB

/// The SQLite schema. Migrations are append-only: a shipped migration is never edited, and none
/// refers to an application type.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: organizations, lists, addresses, contacts, ledger, suppressions") { db in
            try db.execute(sql: v1)
        }
        migrator.registerMigration("v2: API keys") { db in
            try db.execute(sql: v2)
        }
        migrator.registerMigration("v3: list entries paginated by event sequence") { db in
            try db.execute(sql: v3)
        }
        migrator.registerMigration("v4: link keys, pending opt-ins, branding") { db in
            try db.execute(sql: v4)
        }
        migrator.registerMigration("v5: inbound messages and their settings") { db in
            try db.execute(sql: v5)
        }
        migrator.registerMigration("v6: activities and triggers") { db in
            try db.execute(sql: v6)
        }
        migrator.registerMigration("v7: webhook endpoints, the outbox and deliveries") { db in
            try db.execute(sql: v7)
        }
        migrator.registerMigration("v8: sends, their reports, rulesets") { db in
            try db.execute(sql: v8)
        }
        migrator.registerMigration("v9: replayed provider messages, holds, opt-in snapshots, key roles and use, list names") { db in
            try db.execute(sql: v9)
        }
        migrator.registerMigration("v10: addresses re-keyed under libphonenumber and UTS 46 rules") { db in
            try db.execute(sql: v10)
            try rekeyAddresses(db)
        }
        migrator.registerMigration("v11: CRM connectors, their records, reviews and log") { db in
            try db.execute(sql: v11)
        }
        migrator.registerMigration("v12: console users, their sessions, scope names") { db in
            try db.execute(sql: v12)
        }
        migrator.registerMigration("v13: the console's counters kept by the writing transaction") { db in
            try db.execute(sql: v13)
        }
        migrator.registerMigration("v14: IN-list checks of the bulk tables as OR chains") { db in
            try rewriteInListChecks(db)
        }
        migrator.registerMigration("v15: one row of a suppression under an erased address's hash") { db in
            try db.execute(sql: ErasureMerge.repair)
            if db.changesCount > 0 { try db.execute(sql: ConsoleCounters.recount) }
        }
        migrator.registerMigration("v16: inbound messages found by their provider's id") { db in
            try db.execute(sql: "CREATE INDEX inbound_messages_provider ON inbound_messages(org_id, provider_message_id) WHERE provider_message_id IS NOT NULL")
        }
        migrator.registerMigration("v17: the evidence of a contact's event names the address it came through") { db in
            try db.execute(sql: """
                ALTER TABLE evidence ADD COLUMN via_address_id INTEGER;
                CREATE INDEX evidence_via ON evidence(via_address_id) WHERE via_address_id IS NOT NULL;
                """)
            try db.execute(sql: ViaAddress.backfill)
            try db.execute(sql: ViaAddress.backfillOutbox)
            try db.execute(sql: ViaAddress.erasedAnnouncements(set: "json_set(data, '$.evidence', json('{}'))"))
            try db.execute(sql: ViaAddress.scrubErased)
        }
        return migrator
    }

    // Times are unix milliseconds. Channel, source and kind are stored by name.
    private static let v1 = """
        CREATE TABLE organizations (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
            granular_opt_outs INTEGER NOT NULL DEFAULT 0 CHECK (granular_opt_outs IN (0, 1)),
            default_region TEXT CHECK (default_region IS NULL OR length(default_region) = 2),
            created_at INTEGER NOT NULL
        );

        CREATE TABLE lists (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
            description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 300),
            message TEXT CHECK (message IS NULL OR length(message) BETWEEN 1 AND 300),
            webhook_url TEXT,
            channels TEXT NOT NULL,
            is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
            created_at INTEGER NOT NULL,
            deleted_at INTEGER,
            CHECK (is_default = 0 OR deleted_at IS NULL)
        );
        CREATE UNIQUE INDEX lists_active_name ON lists(org_id, name) WHERE deleted_at IS NULL;
        CREATE UNIQUE INDEX lists_one_default ON lists(org_id) WHERE is_default = 1;
        CREATE TRIGGER lists_default_is_kept BEFORE UPDATE OF deleted_at ON lists
            WHEN OLD.is_default = 1 AND NEW.deleted_at IS NOT NULL
            BEGIN SELECT RAISE(ABORT, 'the default list cannot be deleted'); END;

        -- Keywords of active lists only: a deleted list's keywords are removed, so they are
        -- unique per organization among active lists.
        CREATE TABLE list_keywords (
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            list_id INTEGER NOT NULL REFERENCES lists(id),
            keyword TEXT NOT NULL CHECK (length(keyword) BETWEEN 1 AND 50),
            position INTEGER NOT NULL,
            PRIMARY KEY (org_id, keyword)
        );
        CREATE INDEX list_keywords_list ON list_keywords(list_id);

        -- key is the normalized address, or `erased:<hmac>` once erased; display is the input as
        -- given, NULL once erased. Erased rows may share a key.
        CREATE TABLE addresses (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            kind TEXT NOT NULL CHECK (kind IN ('email', 'phone')),
            key TEXT NOT NULL,
            display TEXT,
            erased_at INTEGER,
            CHECK ((erased_at IS NULL) = (display IS NOT NULL))
        );
        CREATE UNIQUE INDEX addresses_live_key ON addresses(org_id, key) WHERE erased_at IS NULL;
        CREATE INDEX addresses_erased_key ON addresses(org_id, key) WHERE erased_at IS NOT NULL;

        CREATE TABLE contacts (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            external_id TEXT NOT NULL CHECK (length(external_id) BETWEEN 1 AND 255),
            created_at INTEGER NOT NULL,
            UNIQUE (org_id, external_id)
        );

        -- Append-only, so other processes follow it by id.
        CREATE TABLE contact_links (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            contact_id INTEGER NOT NULL REFERENCES contacts(id),
            address_id INTEGER NOT NULL REFERENCES addresses(id),
            linked_at INTEGER NOT NULL,
            UNIQUE (contact_id, address_id)
        );
        CREATE INDEX contact_links_address ON contact_links(address_id);

        CREATE TABLE ledger (
            seq INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            kind TEXT NOT NULL CHECK (kind IN ('opt_out', 'opt_in')),
            recorded_at INTEGER NOT NULL,
            address_id INTEGER REFERENCES addresses(id),
            contact_id INTEGER REFERENCES contacts(id),
            channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'whatsapp', 'voice', 'all')),
            scope TEXT NOT NULL,
            list_id INTEGER NOT NULL REFERENCES lists(id),
            source TEXT NOT NULL CHECK (source IN ('api', 'link', 'one_click', 'preference_center',
                'keyword', 'rep', 'trigger', 'crm', 'import')),
            actor TEXT NOT NULL,
            CHECK ((address_id IS NULL) <> (contact_id IS NULL))
        );
        CREATE INDEX ledger_org ON ledger(org_id, seq);
        CREATE INDEX ledger_address ON ledger(address_id, seq) WHERE address_id IS NOT NULL;
        CREATE INDEX ledger_contact ON ledger(contact_id, seq) WHERE contact_id IS NOT NULL;
        CREATE TRIGGER ledger_is_append_only_update BEFORE UPDATE ON ledger
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
        CREATE TRIGGER ledger_is_append_only_delete BEFORE DELETE ON ledger
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;

        -- Personal data of an event lives here, outside the ledger, so erasure can remove it.
        CREATE TABLE evidence (
            event_seq INTEGER PRIMARY KEY REFERENCES ledger(seq),
            json TEXT NOT NULL
        );

        -- The projection: current suppressions, one per (subject, channel, list, scope).
        -- address_key repeats addresses.key so the index loads without a join.
        CREATE TABLE suppressions (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            address_id INTEGER REFERENCES addresses(id),
            contact_id INTEGER REFERENCES contacts(id),
            subject_key TEXT NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'whatsapp', 'voice', 'all')),
            list_id INTEGER NOT NULL REFERENCES lists(id),
            scope TEXT NOT NULL,
            since INTEGER NOT NULL,
            source TEXT NOT NULL,
            -- The event that made it; written in the same transaction (no foreign key: checking
            -- it on every ledger append would cost an index of its own).
            event_seq INTEGER NOT NULL,
            CHECK ((address_id IS NULL) <> (contact_id IS NULL))
        );
        CREATE UNIQUE INDEX suppressions_address ON suppressions(address_id, channel, list_id, scope)
            WHERE address_id IS NOT NULL;
        CREATE UNIQUE INDEX suppressions_contact ON suppressions(contact_id, channel, list_id, scope)
            WHERE contact_id IS NOT NULL;
        CREATE INDEX suppressions_list ON suppressions(list_id, id);

        -- Erasures, followed by other processes so they drop the address from memory.
        CREATE TABLE erasures (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            erased_key TEXT NOT NULL,
            event_seqs TEXT NOT NULL,
            contact_ids TEXT NOT NULL,
            erased_at INTEGER NOT NULL
        );
        """

    // Only the SHA-256 of a key is stored; the key is shown once.
    private static let v2 = """
        CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            hash TEXT NOT NULL UNIQUE CHECK (length(hash) = 64),
            display_prefix TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        );
        CREATE INDEX api_keys_org ON api_keys(org_id);
        """

    // A list's entries are listed in the order they were made, with the event sequence as the
    // cursor: unlike the row id, a sequence is never reused after a deletion.
    private static let v3 = """
        DROP INDEX suppressions_list;
        CREATE INDEX suppressions_list_seq ON suppressions(list_id, event_seq);
        """

    // Link signing keys are shared by every organization (the organization is inside each
    // token); pending opt-ins wait for the person to confirm them; branding shows on pages.
    private static let v4 = """
        CREATE TABLE link_keys (
            id TEXT PRIMARY KEY,
            secret BLOB NOT NULL CHECK (length(secret) >= 32),
            created_at INTEGER NOT NULL
        );
        CREATE TABLE opt_in_requests (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            address TEXT NOT NULL,
            contact TEXT,
            channel TEXT NOT NULL,
            scope TEXT NOT NULL,
            list_id INTEGER NOT NULL REFERENCES lists(id),
            requested_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            confirmed_at INTEGER,
            confirmed_event INTEGER
        );
        CREATE INDEX opt_in_requests_org ON opt_in_requests(org_id, id);
        ALTER TABLE organizations ADD COLUMN brand_name TEXT;
        ALTER TABLE organizations ADD COLUMN brand_logo_url TEXT;
        ALTER TABLE organizations ADD COLUMN brand_color TEXT;
        """

    // Inbound messages keep what was received and what it meant; the review queue is the ones
    // that need a person. Settings hold the organization's keywords, help text and Twilio token.
    private static let v5 = """
        CREATE TABLE inbound_settings (
            org_id INTEGER PRIMARY KEY REFERENCES organizations(id),
            opt_out_keywords TEXT,
            opt_in_keywords TEXT,
            help_keywords TEXT,
            help_text TEXT,
            twilio_auth_token TEXT
        );
        CREATE TABLE inbound_messages (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            channel TEXT NOT NULL,
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL,
            body TEXT NOT NULL,
            provider_message_id TEXT,
            received_at INTEGER NOT NULL,
            result TEXT NOT NULL,
            keyword TEXT,
            replied_at INTEGER,
            review TEXT CHECK (review IN ('pending', 'opt_out', 'ignore'))
        );
        CREATE INDEX inbound_messages_sender ON inbound_messages(org_id, sender, id);
        CREATE INDEX inbound_messages_review ON inbound_messages(org_id, id) WHERE review = 'pending';
        """

    // What reps and dialers log (distinct from the ledger), and the rules that turn activities
    // and inbound messages into opt-outs and opt-ins.
    private static let v6 = """
        CREATE TABLE activities (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            type TEXT NOT NULL,
            address TEXT NOT NULL,
            disposition TEXT NOT NULL,
            scope TEXT NOT NULL,
            occurred_at INTEGER NOT NULL,
            actor TEXT NOT NULL
        );
        CREATE INDEX activities_org ON activities(org_id, id);
        CREATE TABLE triggers (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES organizations(id),
            definition TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            deleted_at INTEGER
        );
        CREATE INDEX triggers_org ON triggers(org_id) WHERE deleted_at IS NULL;
        """
}
