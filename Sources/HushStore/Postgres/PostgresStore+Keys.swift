import Foundation
import HushCore
import Logging
import PostgresNIO

extension PostgresStore {
    public func createKey(in organization: OrganizationID, role: Role) async throws -> (APIKey, APIKeyInfo) {
        let key = APIKey.generate()
        let now = configuration.now()
        let logger = self.logger
        let id = try await transaction { connection in
            _ = try await Self.requireOrganization(connection, organization, logger: logger)
            guard let id = try await connection.value("""
                INSERT INTO api_keys (org_id, hash, display_prefix, role, created_at)
                VALUES (\(organization.rawValue), \(key.hash), \(key.displayPrefix), \(role.rawValue), \(StoredCoding.milliseconds(now)))
                RETURNING id
                """, as: Int64.self, logger: logger)
            else {
                throw HushError(.storage, "the key was not written")
            }
            return id
        }
        return (key, APIKeyInfo(id: id, organization: organization, role: role, displayPrefix: key.displayPrefix, createdAt: now))
    }

    public func keys(in organization: OrganizationID) async throws -> [APIKeyInfo] {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("""
                SELECT id, role, display_prefix, created_at, last_used_at FROM api_keys
                WHERE org_id = \(organization.rawValue) AND revoked_at IS NULL ORDER BY id
                """, logger: logger).map { row in
                let (id, role, prefix, created, used) = try row.decode((Int64, String, String, Int64, Int64?).self)
                return APIKeyInfo(
                    id: id, organization: organization, role: try Role(parsing: role), displayPrefix: prefix,
                    createdAt: StoredCoding.date(created), lastUsedAt: used.map(StoredCoding.date))
            }
        }
    }

    public func revokeKey(_ id: Int64, in organization: OrganizationID) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        return try await transaction { connection in
            let revoked = try await connection.rows("""
                UPDATE api_keys SET revoked_at = \(now)
                WHERE id = \(id) AND org_id = \(organization.rawValue) AND revoked_at IS NULL
                RETURNING id
                """, logger: logger)
            return revoked.count == 1
        }
    }

    public func revokedKeys(among ids: Set<Int64>) async throws -> Set<Int64> {
        guard !ids.isEmpty else { return [] }
        let logger = self.logger
        let live = try await read { connection in
            try await connection.rows("""
                SELECT id FROM api_keys WHERE id = ANY(\(Array(ids))::bigint[]) AND revoked_at IS NULL
                """, logger: logger).map { try $0.decode(Int64.self) }
        }
        return ids.subtracting(live)
    }

    public func noteKeysUsed(_ ids: Set<Int64>, at date: Date) async throws {
        guard !ids.isEmpty else { return }
        let when = StoredCoding.milliseconds(date)
        let logger = self.logger
        try await transaction { connection in
            _ = try await connection.rows("""
                UPDATE api_keys SET last_used_at = \(when) WHERE id = ANY(\(Array(ids))::bigint[])
                """, logger: logger)
        }
    }

    public func principal(forKeyHash hash: String) async throws -> Principal? {
        let logger = self.logger
        return try await read { connection in
            let rows = try await connection.rows("""
                SELECT id, org_id, role FROM api_keys WHERE hash = \(hash) AND revoked_at IS NULL
                """, logger: logger)
            guard let row = rows.first else { return nil }
            let (id, organization, role) = try row.decode((Int64, Int64, String).self)
            return Principal(organization: OrganizationID(rawValue: organization), role: try Role(parsing: role), keyID: id)
        }
    }
}
