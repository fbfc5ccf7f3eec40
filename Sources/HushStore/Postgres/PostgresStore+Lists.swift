import Foundation
import HushCore
import Logging
import PostgresNIO

extension PostgresStore {
    public func createList(in organization: OrganizationID, _ definition: ListDefinition) async throws -> OptOutList {
        try DirectoryRules.create(definition)
        defer { directory.forget(organization) }
        let now = StoredCoding.milliseconds(configuration.now())
        let secretKey = configuration.secretKey
        let logger = self.logger
        let list = try await transaction { connection in
            try await Self.lockNames(connection, of: organization, logger: logger)
            _ = try await Self.requireOrganization(connection, organization, logger: logger)
            try await Self.ensureNameIsNotReserved(connection, definition.name, in: organization, except: nil, logger: logger)
            // Unique among active lists by the database, not by a read first.
            guard let row = try await connection.value("""
                INSERT INTO lists (org_id, name, description, message, webhook_url, channels, public, created_at)
                VALUES (\(organization.rawValue), \(definition.name), \(definition.description), \(definition.message),
                        \(definition.webhookURL), \(StoredCoding.channels(definition.channels)), \(definition.isPublic), \(now))
                ON CONFLICT (org_id, name) WHERE deleted_at IS NULL DO NOTHING
                RETURNING id
                """, as: Int64.self, logger: logger)
            else {
                throw Self.listNameTaken(definition.name)
            }
            let id = ListID(rawValue: row)
            try await Self.replaceKeywords(connection, of: id, in: organization, with: definition.keywords, logger: logger)
            var list = OptOutList(id: id, organization: organization, definition: definition, isDefault: false)
            try await Self.syncListWebhook(connection, &list, now: now, secretKey: secretKey, logger: logger)
            return list
        }
        indexed.noteListName(list.definition.name, for: list.id)
        return list
    }

    public func lists(in organization: OrganizationID) async throws -> [OptOutList] {
        let logger = self.logger
        return try await directory.lists(of: organization) {
            try await read { connection in
                try await Self.listRows(connection, """
                    \(unescaped: Self.listSelect)
                    WHERE org_id = \(organization.rawValue) AND deleted_at IS NULL
                    ORDER BY is_default DESC, id
                    """, logger: logger)
            }
        }
    }

    public func list(_ id: ListID, in organization: OrganizationID) async throws -> OptOutList? {
        let logger = self.logger
        return try await read { connection in try await Self.activeList(connection, id, in: organization, logger: logger) }
    }

    public func updateList(_ id: ListID, in organization: OrganizationID, _ definition: ListDefinition) async throws -> OptOutList {
        defer { directory.forget(organization) }
        let now = StoredCoding.milliseconds(configuration.now())
        let secretKey = configuration.secretKey
        let logger = self.logger
        let list = try await transaction { connection in
            try await Self.lockNames(connection, of: organization, logger: logger)
            guard let existing = try await Self.activeList(connection, id, in: organization, logger: logger) else {
                throw HushError(.notFound, field: "id", "no list \(id) in this organization")
            }
            try DirectoryRules.update(existing, to: definition)
            try await Self.ensureNameIsNotReserved(connection, definition.name, in: organization, except: id, logger: logger)
            if definition.name != existing.definition.name {
                try await connection.rows("""
                    INSERT INTO list_names (org_id, name, list_id) VALUES (\(organization.rawValue), \(existing.definition.name), \(id.rawValue))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
            // The violation aborts the transaction, which rolls back on the rethrow.
            do {
                try await connection.rows("""
                    UPDATE lists SET name = \(definition.name), description = \(definition.description), message = \(definition.message),
                        webhook_url = \(definition.webhookURL), channels = \(StoredCoding.channels(definition.channels)),
                        public = \(definition.isPublic)
                    WHERE id = \(id.rawValue)
                    """, logger: logger)
            } catch let error where PostgresStore.isUniqueViolation(error, "lists_active_name") {
                throw Self.listNameTaken(definition.name)
            }
            try await Self.replaceKeywords(connection, of: id, in: organization, with: definition.keywords, logger: logger)
            var list = OptOutList(id: id, organization: organization, definition: definition, isDefault: existing.isDefault,
                                  webhook: existing.webhook)
            list.formerNames = try await connection.rows("""
                SELECT name FROM list_names WHERE list_id = \(id.rawValue) ORDER BY name COLLATE "C"
                """, logger: logger).map { try $0.decode(String.self) }
            try await Self.syncListWebhook(connection, &list, now: now, secretKey: secretKey, logger: logger)
            return list
        }
        indexed.noteListName(list.definition.name, for: list.id)
        return list
    }

    public func deleteList(_ id: ListID, in organization: OrganizationID) async throws {
        defer { directory.forget(organization) }
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        try await transaction { connection in
            try await Self.lockNames(connection, of: organization, logger: logger)
            guard let existing = try await Self.activeList(connection, id, in: organization, logger: logger) else {
                throw HushError(.notFound, field: "id", "no list \(id) in this organization")
            }
            try DirectoryRules.delete(existing)
            // Its name stays its own, as a renamed list's former names do: a new list under it
            // would make checks and sends naming it mean a list none of its opt-outs are on.
            try await connection.rows("""
                INSERT INTO list_names (org_id, name, list_id) VALUES (\(organization.rawValue), \(existing.definition.name), \(id.rawValue))
                ON CONFLICT DO NOTHING
                """, logger: logger)
            try await connection.rows("DELETE FROM list_keywords WHERE list_id = \(id.rawValue)", logger: logger)
            // The default list's trigger refuses this too (P0001, reported as a conflict).
            try await connection.rows("UPDATE lists SET deleted_at = \(now) WHERE id = \(id.rawValue)", logger: logger)
            try await connection.rows("""
                UPDATE webhook_endpoints SET deleted_at = \(now) WHERE owner_list = \(id.rawValue) AND deleted_at IS NULL
                """, logger: logger)
        }
    }

    /// The active list `id` of `organization`, or nil when there is none (or it was deleted).
    static func activeList(_ connection: PostgresConnection, _ id: ListID, in organization: OrganizationID, logger: Logger) async throws -> OptOutList? {
        try await listRows(connection, """
            \(unescaped: listSelect)
            WHERE id = \(id.rawValue) AND org_id = \(organization.rawValue) AND deleted_at IS NULL
            ORDER BY is_default DESC, id
            """, logger: logger).first
    }

    /// The columns `listRows` decodes, with a list's former names (in byte order, as SQLite
    /// sorts them), its keywords in position order and its own webhook endpoint.
    private static let listSelect = """
        SELECT id, org_id, name, description, message, webhook_url, channels, is_default, public,
               COALESCE((SELECT array_agg(n.name ORDER BY n.name COLLATE "C") FROM list_names n WHERE n.list_id = lists.id),
                        '{}'::text[]) AS former,
               COALESCE((SELECT array_agg(k.keyword ORDER BY k.position) FROM list_keywords k WHERE k.list_id = lists.id),
                        '{}'::text[]) AS keywords,
               (SELECT w.id FROM webhook_endpoints w WHERE w.owner_list = lists.id AND w.deleted_at IS NULL) AS webhook
        FROM lists
        """

    /// Lists from a query that starts with `listSelect`.
    private static func listRows(_ connection: PostgresConnection, _ query: PostgresQuery, logger: Logger) async throws -> [OptOutList] {
        try await connection.rows(query, logger: logger).map { row in
            let (id, organization, name, description, message, webhookURL, channels, isDefault, isPublic, former, keywords, webhook) =
                try row.decode((Int64, Int64, String, String, String?, String?, String, Bool, Bool, [String], [String], Int64?).self)
            let definition = try ListDefinition(
                name: name, description: description, keywords: keywords, message: message,
                webhookURL: webhookURL, channels: StoredCoding.channels(channels), isPublic: isPublic)
            var list = OptOutList(
                id: ListID(rawValue: id), organization: OrganizationID(rawValue: organization),
                definition: definition, isDefault: isDefault, webhook: webhook.map(WebhookID.init(rawValue:)))
            list.formerNames = former
            return list
        }
    }

    /// Keeps the list's own webhook endpoint in step with its `webhook_url`: created with a new
    /// secret (returned once) when the URL is first set, pointed at a changed URL, removed when
    /// the URL is cleared. The secret is sealed before it is written.
    private static func syncListWebhook(
        _ connection: PostgresConnection, _ list: inout OptOutList, now: Int64, secretKey: SecretKey, logger: Logger
    ) async throws {
        switch WebhookRouting.listEndpoint(url: list.definition.webhookURL, endpoint: list.webhook) {
        case .none:
            return
        case .delete(let endpoint):
            try await connection.rows("UPDATE webhook_endpoints SET deleted_at = \(now) WHERE id = \(endpoint.rawValue)", logger: logger)
            list.webhook = nil
        case .retarget(let endpoint, let url):
            try await connection.rows("UPDATE webhook_endpoints SET url = \(url) WHERE id = \(endpoint.rawValue)", logger: logger)
        case .create(let url):
            let secret = WebhookSecret.generate()
            let sealed = PostgresSecrets.seal(
                try StoredSecrets.encode([.init(secret: secret.description, expiresAt: nil)]), with: secretKey)
            let events = WebhookRouting.listEndpointEvents.map(\.rawValue).joined(separator: ",")
            guard let endpoint = try await connection.value("""
                INSERT INTO webhook_endpoints (org_id, url, events, lists, enabled, secrets, owner_list, created_at)
                VALUES (\(list.organization.rawValue), \(url), \(events), NULL, true, \(sealed), \(list.id.rawValue), \(now))
                RETURNING id
                """, as: Int64.self, logger: logger)
            else {
                throw HushError(.storage, "the list's webhook endpoint was not written")
            }
            list.webhook = WebhookID(rawValue: endpoint)
            list.webhookSecret = secret
        }
    }

    private static func listNameTaken(_ name: String) -> HushError {
        HushError(.conflict, field: "name", "a list named \"\(name)\" already exists")
    }

    /// A name a list had before stays its own, so requests naming it keep meaning that list.
    private static func ensureNameIsNotReserved(
        _ connection: PostgresConnection, _ name: String, in organization: OrganizationID, except id: ListID?, logger: Logger
    ) async throws {
        let former = try await connection.value("""
            SELECT EXISTS (SELECT 1 FROM list_names
                           WHERE org_id = \(organization.rawValue) AND name = \(name) AND list_id IS DISTINCT FROM \(id?.rawValue))
            """, as: Bool.self, logger: logger) ?? false
        if former {
            throw HushError(.conflict, field: "name", "\"\(name)\" was the name of another list and stays reserved to it, so requests naming it keep meaning that list")
        }
    }

    private static func replaceKeywords(
        _ connection: PostgresConnection, of list: ListID, in organization: OrganizationID, with keywords: [String], logger: Logger
    ) async throws {
        try await connection.rows("DELETE FROM list_keywords WHERE list_id = \(list.rawValue)", logger: logger)
        for (position, keyword) in keywords.enumerated() {
            // One at a time, so the first keyword another list holds is the one reported.
            let owner = try await connection.value("""
                INSERT INTO list_keywords (org_id, list_id, keyword, position)
                VALUES (\(organization.rawValue), \(list.rawValue), \(keyword), \(Int64(position)))
                ON CONFLICT (org_id, keyword) DO NOTHING
                RETURNING list_id
                """, as: Int64.self, logger: logger)
            if owner == nil {
                throw HushError(.conflict, field: "keywords[\(position)]", "the keyword \"\(keyword)\" already belongs to another list")
            }
        }
    }

    /// Names and former names of an organization's lists are checked, then written: one writer
    /// at a time per organization, or two renames on two nodes could each pass the check.
    static func lockNames(_ connection: PostgresConnection, of organization: OrganizationID, logger: Logger) async throws {
        try await connection.rows(
            "SELECT pg_advisory_xact_lock(hashtextextended('hush list names ' || \(organization.rawValue)::text, 0))", logger: logger)
    }
}
