import Foundation
import HushCore
import Logging
import PostgresNIO

extension PostgresStore {
    static func consoleUser(_ row: PostgresRow) throws -> ConsoleUser {
        let (id, organization, email, role, created, disabled, signedIn) = try row.decode((Int64, Int64, String, String, Int64, Int64?, Int64?).self)
        return ConsoleUser(
            id: ConsoleUserID(rawValue: id), organization: OrganizationID(rawValue: organization), email: email, role: try Role(parsing: role),
            createdAt: StoredCoding.date(created), disabledAt: disabled.map(StoredCoding.date), lastSignInAt: signedIn.map(StoredCoding.date))
    }

    public func createUser(email: String, role: Role, passwordHash: String, in organization: OrganizationID, at date: Date) async throws -> ConsoleUser {
        let logger = self.logger
        let id = try await transaction { connection in
            _ = try await Self.requireOrganization(connection, organization, logger: logger)
            guard let id = try await connection.value("""
                INSERT INTO console_users (org_id, email, role, password_hash, created_at)
                VALUES (\(organization.rawValue), \(email), \(role.rawValue), \(passwordHash), \(StoredCoding.milliseconds(date)))
                ON CONFLICT (email) DO NOTHING RETURNING id
                """, as: Int64.self, logger: logger)
            else {
                throw HushError(.conflict, field: "email", "a console user with this email exists")
            }
            return id
        }
        return ConsoleUser(id: ConsoleUserID(rawValue: id), organization: organization, email: email, role: role, createdAt: date)
    }

    public func users(in organization: OrganizationID) async throws -> [ConsoleUser] {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("""
                SELECT id, org_id, email, role, created_at, disabled_at, last_sign_in_at FROM console_users
                WHERE org_id = \(organization.rawValue) ORDER BY id
                """, logger: logger).map(Self.consoleUser)
        }
    }

    public func user(_ id: ConsoleUserID, in organization: OrganizationID) async throws -> ConsoleUser? {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("""
                SELECT id, org_id, email, role, created_at, disabled_at, last_sign_in_at FROM console_users
                WHERE id = \(id.rawValue) AND org_id = \(organization.rawValue)
                """, logger: logger).first.map(Self.consoleUser)
        }
    }

    public func userForSignIn(email: String) async throws -> (user: ConsoleUser, passwordHash: String)? {
        let logger = self.logger
        return try await read { connection in
            guard let row = try await connection.rows("""
                SELECT id, org_id, email, role, created_at, disabled_at, last_sign_in_at, password_hash FROM console_users WHERE email = \(email)
                """, logger: logger).first
            else { return nil }
            return (try Self.consoleUser(row), try row.decode((Int64, Int64, String, String, Int64, Int64?, Int64?, String).self).7)
        }
    }

    public func disableUser(_ id: ConsoleUserID, in organization: OrganizationID, at date: Date) async throws -> Bool {
        let logger = self.logger
        return try await transaction { connection in
            let disabled = try await connection.rows("""
                UPDATE console_users SET disabled_at = \(StoredCoding.milliseconds(date))
                WHERE id = \(id.rawValue) AND org_id = \(organization.rawValue) AND disabled_at IS NULL RETURNING id
                """, logger: logger)
            guard disabled.count == 1 else { return false }
            _ = try await connection.rows("DELETE FROM console_sessions WHERE user_id = \(id.rawValue)", logger: logger)
            return true
        }
    }

    public func createSession(_ session: ConsoleSession) async throws {
        let logger = self.logger
        try await transaction { connection in
            _ = try await connection.rows("""
                INSERT INTO console_sessions (token_hash, user_id, created_at, expires_at)
                VALUES (\(session.tokenHash), \(session.user.rawValue), \(StoredCoding.milliseconds(session.createdAt)),
                        \(StoredCoding.milliseconds(session.expiresAt)))
                """, logger: logger)
            _ = try await connection.rows("""
                UPDATE console_users SET last_sign_in_at = \(StoredCoding.milliseconds(session.createdAt)) WHERE id = \(session.user.rawValue)
                """, logger: logger)
        }
    }

    public func session(tokenHash: String, at date: Date) async throws -> (session: ConsoleSession, user: ConsoleUser)? {
        let logger = self.logger
        return try await read { connection in
            guard let row = try await connection.rows("""
                SELECT u.id, u.org_id, u.email, u.role, u.created_at, u.disabled_at, u.last_sign_in_at, s.created_at, s.expires_at
                FROM console_sessions s JOIN console_users u ON u.id = s.user_id
                WHERE s.token_hash = \(tokenHash) AND s.expires_at > \(StoredCoding.milliseconds(date)) AND u.disabled_at IS NULL
                """, logger: logger).first
            else { return nil }
            let user = try Self.consoleUser(row)
            let times = try row.decode((Int64, Int64, String, String, Int64, Int64?, Int64?, Int64, Int64).self)
            return (ConsoleSession(tokenHash: tokenHash, user: user.id, createdAt: StoredCoding.date(times.7), expiresAt: StoredCoding.date(times.8)), user)
        }
    }

    public func extendSession(tokenHash: String, until: Date) async throws {
        let logger = self.logger
        try await transaction { connection in
            _ = try await connection.rows("""
                UPDATE console_sessions SET expires_at = \(StoredCoding.milliseconds(until)) WHERE token_hash = \(tokenHash)
                """, logger: logger)
        }
    }

    public func endSession(tokenHash: String) async throws {
        let logger = self.logger
        try await transaction { connection in
            _ = try await connection.rows("DELETE FROM console_sessions WHERE token_hash = \(tokenHash)", logger: logger)
        }
    }

    public func pruneSessions(expiredBefore date: Date) async throws -> Int {
        let logger = self.logger
        return try await transaction { connection in
            try await connection.rows("""
                DELETE FROM console_sessions WHERE expires_at <= \(StoredCoding.milliseconds(date)) RETURNING token_hash
                """, logger: logger).count
        }
    }

    public func nameScope(_ scope: Scope, _ name: String?, in organization: OrganizationID) async throws {
        let logger = self.logger
        try await transaction { connection in
            _ = try await Self.requireOrganization(connection, organization, logger: logger)
            if let name {
                _ = try await connection.rows("""
                    INSERT INTO scope_names (org_id, path, name) VALUES (\(organization.rawValue), \(scope.path), \(name))
                    ON CONFLICT (org_id, path) DO UPDATE SET name = excluded.name
                    """, logger: logger)
            } else {
                _ = try await connection.rows("""
                    DELETE FROM scope_names WHERE org_id = \(organization.rawValue) AND path = \(scope.path)
                    """, logger: logger)
            }
        }
    }

    public func scopeNames(in organization: OrganizationID) async throws -> [Scope: String] {
        let logger = self.logger
        let rows = try await read { connection in
            try await connection.rows("SELECT path, name FROM scope_names WHERE org_id = \(organization.rawValue)", logger: logger)
                .map { try $0.decode((String, String).self) }
        }
        var names: [Scope: String] = [:]
        for (path, name) in rows { names[try Scope(parsing: path)] = name }
        return names
    }

    public func dailyEvents(in organization: OrganizationID, from firstDay: Int64) async throws -> [DailyEvents] {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("""
                SELECT day, kind, channel, source, events FROM ledger_daily
                WHERE org_id = \(organization.rawValue) AND day >= \(firstDay) AND events > 0 ORDER BY day
                """, logger: logger).map { row in
                let (day, kind, channel, source, events) = try row.decode((Int64, String, String, String, Int64).self)
                return DailyEvents(day: day, kind: kind, channel: channel, source: source, events: Int(events))
            }
        }
    }

    public func suppressionCounts(in organization: OrganizationID) async throws -> [SuppressionCount] {
        let logger = self.logger
        return try await read { connection in
            try await connection.rows("""
                SELECT list_id, channel, suppressions FROM suppression_counts
                WHERE org_id = \(organization.rawValue) AND suppressions > 0 ORDER BY list_id, channel
                """, logger: logger).map { row in
                let (list, channel, count) = try row.decode((Int64, String, Int64).self)
                return SuppressionCount(list: ListID(rawValue: list), channel: channel, suppressions: Int(count))
            }
        }
    }
}
