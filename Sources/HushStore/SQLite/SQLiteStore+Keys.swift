import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    public func createKey(in organization: OrganizationID, role: Role) async throws -> (APIKey, APIKeyInfo) {
        let key = APIKey.generate()
        let now = configuration.now()
        let id = try await storageErrors {
            try await pool.write { db in
                _ = try Self.requireOrganization(db, organization)
                try db.execute(
                    sql: "INSERT INTO api_keys (org_id, hash, display_prefix, role, created_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [organization.rawValue, key.hash, key.displayPrefix, role.rawValue, SQLiteCoding.milliseconds(now)])
                return db.lastInsertedRowID
            }
        }
        return (key, APIKeyInfo(id: id, organization: organization, role: role, displayPrefix: key.displayPrefix, createdAt: now))
    }

    public func keys(in organization: OrganizationID) async throws -> [APIKeyInfo] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, role, display_prefix, created_at FROM api_keys WHERE org_id = ? AND revoked_at IS NULL ORDER BY id
                """, arguments: [organization.rawValue]).map { row in
                APIKeyInfo(
                    id: row[0], organization: organization, role: try Role(parsing: row[1]), displayPrefix: row[2],
                    createdAt: SQLiteCoding.date(row[3]))
            }
        }
    }

    public func principal(forKeyHash hash: String) async throws -> Principal? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT id, org_id, role FROM api_keys WHERE hash = ? AND revoked_at IS NULL"),
                             arguments: [hash]).map { row in
                Principal(organization: OrganizationID(rawValue: row[1]), role: try Role(parsing: row[2]), keyID: row[0])
            }
        }
    }
}
