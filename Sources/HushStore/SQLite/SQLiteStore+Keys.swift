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
                    arguments: [organization.rawValue, key.hash, key.displayPrefix, role.rawValue, StoredCoding.milliseconds(now)])
                return db.lastInsertedRowID
            }
        }
        return (key, APIKeyInfo(id: id, organization: organization, role: role, displayPrefix: key.displayPrefix, createdAt: now))
    }

    public func keys(in organization: OrganizationID) async throws -> [APIKeyInfo] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, role, display_prefix, created_at, last_used_at FROM api_keys WHERE org_id = ? AND revoked_at IS NULL ORDER BY id
                """, arguments: [organization.rawValue]).map { row in
                let used: Int64? = row[4]
                return APIKeyInfo(
                    id: row[0], organization: organization, role: try Role(parsing: row[1]), displayPrefix: row[2],
                    createdAt: StoredCoding.date(row[3]), lastUsedAt: used.map(StoredCoding.date))
            }
        }
    }

    public func revokeKey(_ id: Int64, in organization: OrganizationID) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        return try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND org_id = ? AND revoked_at IS NULL",
                               arguments: [now, id, organization.rawValue])
                return db.changesCount == 1
            }
        }
    }

    public func revokedKeys(among ids: Set<Int64>) async throws -> Set<Int64> {
        guard !ids.isEmpty else { return [] }
        let list = String(decoding: try JSONEncoder().encode(Array(ids)), as: UTF8.self)
        return try await read { db in
            let live = try Int64.fetchAll(db.cachedStatement(sql: """
                SELECT id FROM api_keys WHERE id IN (SELECT value FROM json_each(?)) AND revoked_at IS NULL
                """), arguments: [list])
            return ids.subtracting(live)
        }
    }

    public func noteKeysUsed(_ ids: Set<Int64>, at date: Date) async throws {
        guard !ids.isEmpty else { return }
        let when = StoredCoding.milliseconds(date)
        try await storageErrors {
            try await pool.write { db in
                for id in ids {
                    try db.execute(sql: "UPDATE api_keys SET last_used_at = ? WHERE id = ?", arguments: [when, id])
                }
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
