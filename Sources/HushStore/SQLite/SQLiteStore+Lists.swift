import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    public func createList(in organization: OrganizationID, _ definition: ListDefinition) async throws -> OptOutList {
        try DirectoryRules.create(definition)
        defer { directory.forget(organization) }
        let now = StoredCoding.milliseconds(configuration.now())
        let list = try await storageErrors {
            try await pool.write { db in
                _ = try Self.requireOrganization(db, organization)
                try Self.ensureNameIsNotReserved(db, definition.name, in: organization, except: nil)
                // Unique among active lists by the database, not by a read first.
                guard let row = try Int64.fetchOne(db, sql: """
                    INSERT INTO lists (org_id, name, description, message, webhook_url, channels, public, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (org_id, name) WHERE deleted_at IS NULL DO NOTHING
                    RETURNING id
                    """, arguments: [
                        organization.rawValue, definition.name, definition.description, definition.message,
                        definition.webhookURL, StoredCoding.channels(definition.channels), definition.isPublic, now,
                    ])
                else {
                    throw Self.listNameTaken(definition.name)
                }
                let id = ListID(rawValue: row)
                try Self.replaceKeywords(db, of: id, in: organization, with: definition.keywords)
                var list = OptOutList(id: id, organization: organization, definition: definition, isDefault: false)
                try Self.syncListWebhook(db, &list, now: now)
                return list
            }
        }
        indexed.noteListName(list.definition.name, for: list.id)
        return list
    }

    public func lists(in organization: OrganizationID) async throws -> [OptOutList] {
        try await directory.lists(of: organization) {
            try await read { db in
                try Self.listRows(db, where: "org_id = ? AND deleted_at IS NULL", [organization.rawValue])
            }
        }
    }

    public func list(_ id: ListID, in organization: OrganizationID) async throws -> OptOutList? {
        try await read { db in try Self.activeList(db, id, in: organization) }
    }

    public func updateList(_ id: ListID, in organization: OrganizationID, _ definition: ListDefinition) async throws -> OptOutList {
        defer { directory.forget(organization) }
        let list = try await storageErrors {
            try await pool.write { db in
                guard let existing = try Self.activeList(db, id, in: organization) else {
                    throw HushError(.notFound, field: "id", "no list \(id) in this organization")
                }
                try DirectoryRules.update(existing, to: definition)
                try Self.ensureNameIsNotReserved(db, definition.name, in: organization, except: id)
                if definition.name != existing.definition.name {
                    try db.execute(sql: "INSERT INTO list_names (org_id, name, list_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                                   arguments: [organization.rawValue, existing.definition.name, id.rawValue])
                }
                try uniquely("lists.org_id, lists.name", else: Self.listNameTaken(definition.name)) {
                    try db.execute(sql: """
                        UPDATE lists SET name = ?, description = ?, message = ?, webhook_url = ?, channels = ?, public = ?
                        WHERE id = ?
                        """, arguments: [
                            definition.name, definition.description, definition.message, definition.webhookURL,
                            StoredCoding.channels(definition.channels), definition.isPublic, id.rawValue,
                        ])
                }
                try Self.replaceKeywords(db, of: id, in: organization, with: definition.keywords)
                var list = OptOutList(id: id, organization: organization, definition: definition, isDefault: existing.isDefault,
                                      webhook: existing.webhook)
                list.formerNames = try String.fetchAll(db, sql: "SELECT name FROM list_names WHERE list_id = ? ORDER BY name",
                                                       arguments: [id.rawValue])
                try Self.syncListWebhook(db, &list, now: StoredCoding.milliseconds(configuration.now()))
                return list
            }
        }
        indexed.noteListName(list.definition.name, for: list.id)
        return list
    }

    public func deleteList(_ id: ListID, in organization: OrganizationID) async throws {
        defer { directory.forget(organization) }
        let now = StoredCoding.milliseconds(configuration.now())
        return try await storageErrors {
            try await pool.write { db in
                guard let existing = try Self.activeList(db, id, in: organization) else {
                    throw HushError(.notFound, field: "id", "no list \(id) in this organization")
                }
                try DirectoryRules.delete(existing)
                // Its name stays its own, as a renamed list's former names do: a new list under it
                // would make checks and sends naming it mean a list none of its opt-outs are on.
                try db.execute(sql: "INSERT INTO list_names (org_id, name, list_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                               arguments: [organization.rawValue, existing.definition.name, id.rawValue])
                try db.execute(sql: "DELETE FROM list_keywords WHERE list_id = ?", arguments: [id.rawValue])
                try db.execute(sql: "UPDATE lists SET deleted_at = ? WHERE id = ?", arguments: [now, id.rawValue])
                try db.execute(sql: "UPDATE webhook_endpoints SET deleted_at = ? WHERE owner_list = ? AND deleted_at IS NULL",
                               arguments: [now, id.rawValue])
            }
        }
    }

    static func activeList(_ db: Database, _ id: ListID, in organization: OrganizationID) throws -> OptOutList? {
        try listRows(db, where: "id = ? AND org_id = ? AND deleted_at IS NULL", [id.rawValue, organization.rawValue]).first
    }

    private static func listRows(_ db: Database, where condition: String, _ arguments: StatementArguments) throws -> [OptOutList] {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT id, org_id, name, description, message, webhook_url, channels, is_default, public,
                   (SELECT json_group_array(name) FROM (SELECT name FROM list_names n WHERE n.list_id = lists.id ORDER BY name)) AS former,
                   (SELECT json_group_array(keyword) FROM
                       (SELECT keyword FROM list_keywords k WHERE k.list_id = lists.id ORDER BY position)) AS keywords,
                   (SELECT w.id FROM webhook_endpoints w WHERE w.owner_list = lists.id AND w.deleted_at IS NULL) AS webhook
            FROM lists WHERE \(condition) ORDER BY is_default DESC, id
            """), arguments: arguments)
        return try rows.map { row in
            let keywords = try JSONDecoder().decode([String].self, from: Data((row["keywords"] as String).utf8))
            let definition = try ListDefinition(
                name: row["name"], description: row["description"], keywords: keywords, message: row["message"],
                webhookURL: row["webhook_url"], channels: StoredCoding.channels(row["channels"]), isPublic: row["public"])
            var list = OptOutList(
                id: ListID(rawValue: row["id"]), organization: OrganizationID(rawValue: row["org_id"]),
                definition: definition, isDefault: row["is_default"], webhook: row["webhook"])
            list.formerNames = try JSONDecoder().decode([String].self, from: Data((row["former"] as String).utf8))
            return list
        }
    }

    /// Keeps the list's own webhook endpoint in step with its `webhook_url`: created with a new
    /// secret (returned once) when the URL is first set, pointed at a changed URL, removed when
    /// the URL is cleared.
    private static func syncListWebhook(_ db: Database, _ list: inout OptOutList, now: Int64) throws {
        switch WebhookRouting.listEndpoint(url: list.definition.webhookURL, endpoint: list.webhook) {
        case .none:
            return
        case .delete(let endpoint):
            try db.execute(sql: "UPDATE webhook_endpoints SET deleted_at = ? WHERE id = ?", arguments: [now, endpoint])
            list.webhook = nil
        case .retarget(let endpoint, let url):
            try db.execute(sql: "UPDATE webhook_endpoints SET url = ? WHERE id = ?", arguments: [url, endpoint])
        case .create(let url):
            let secret = WebhookSecret.generate()
            try db.execute(sql: """
                INSERT INTO webhook_endpoints (org_id, url, events, lists, enabled, secrets, owner_list, created_at)
                VALUES (?, ?, ?, NULL, 1, hush_seal(?), ?, ?)
                """, arguments: [
                    list.organization.rawValue, url, WebhookRouting.listEndpointEvents.map(\.rawValue).joined(separator: ","),
                    try StoredSecrets.encode([.init(secret: secret.description, expiresAt: nil)]), list.id.rawValue, now,
                ])
            list.webhook = WebhookID(db.lastInsertedRowID)
            list.webhookSecret = secret
        }
    }

    private static func listNameTaken(_ name: String) -> HushError {
        HushError(.conflict, field: "name", "a list named \"\(name)\" already exists")
    }

    /// A name a list had before stays its own, so requests naming it keep meaning that list.
    private static func ensureNameIsNotReserved(_ db: Database, _ name: String, in organization: OrganizationID, except id: ListID?) throws {
        let former = try Bool.fetchOne(db, sql: """
            SELECT EXISTS (SELECT 1 FROM list_names WHERE org_id = ? AND name = ? AND list_id IS NOT ?)
            """, arguments: [organization.rawValue, name, id?.rawValue]) ?? false
        if former {
            throw HushError(.conflict, field: "name", "\"\(name)\" was the name of another list and stays reserved to it, so requests naming it keep meaning that list")
        }
    }

    private static func replaceKeywords(_ db: Database, of list: ListID, in organization: OrganizationID, with keywords: [String]) throws {
        try db.execute(sql: "DELETE FROM list_keywords WHERE list_id = ?", arguments: [list.rawValue])
        for (position, keyword) in keywords.enumerated() {
            let owner = try Int64.fetchOne(db, sql: """
                INSERT INTO list_keywords (org_id, list_id, keyword, position) VALUES (?, ?, ?, ?)
                ON CONFLICT (org_id, keyword) DO NOTHING
                RETURNING list_id
                """, arguments: [organization.rawValue, list.rawValue, keyword, position])
            if owner == nil {
                throw HushError(.conflict, field: "keywords[\(position)]", "the keyword \"\(keyword)\" already belongs to another list")
            }
        }
    }
}
