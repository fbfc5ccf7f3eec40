import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    static let consoleUserColumns = "id, org_id, email, role, created_at, disabled_at, last_sign_in_at"

    static func consoleUser(_ row: Row) throws -> ConsoleUser {
        let disabled: Int64? = row[5]
        let signedIn: Int64? = row[6]
        return ConsoleUser(
            id: ConsoleUserID(rawValue: row[0]), organization: OrganizationID(rawValue: row[1]), email: row[2],
            role: try Role(parsing: row[3]), createdAt: StoredCoding.date(row[4]), disabledAt: disabled.map(StoredCoding.date),
            lastSignInAt: signedIn.map(StoredCoding.date))
    }

    public func createUser(email: String, role: Role, passwordHash: String, in organization: OrganizationID, at date: Date) async throws -> ConsoleUser {
        try await storageErrors {
            try await pool.write { db in
                _ = try Self.requireOrganization(db, organization)
                guard let id = try Int64.fetchOne(db, sql: """
                    INSERT INTO console_users (org_id, email, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (email) DO NOTHING RETURNING id
                    """, arguments: [organization.rawValue, email, role.rawValue, passwordHash, StoredCoding.milliseconds(date)])
                else {
                    throw HushError(.conflict, field: "email", "a console user with this email exists")
                }
                return ConsoleUser(id: ConsoleUserID(rawValue: id), organization: organization, email: email, role: role, createdAt: date)
            }
        }
    }

    public func users(in organization: OrganizationID) async throws -> [ConsoleUser] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.consoleUserColumns) FROM console_users WHERE org_id = ? ORDER BY id",
                             arguments: [organization.rawValue]).map(Self.consoleUser)
        }
    }

    public func user(_ id: ConsoleUserID, in organization: OrganizationID) async throws -> ConsoleUser? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.consoleUserColumns) FROM console_users WHERE id = ? AND org_id = ?",
                             arguments: [id.rawValue, organization.rawValue]).map(Self.consoleUser)
        }
    }

    public func userForSignIn(email: String) async throws -> (user: ConsoleUser, passwordHash: String)? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.consoleUserColumns), password_hash FROM console_users WHERE email = ?",
                             arguments: [email]).map { (try Self.consoleUser($0), $0[7]) }
        }
    }

    public func disableUser(_ id: ConsoleUserID, in organization: OrganizationID, at date: Date) async throws -> Bool {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "UPDATE console_users SET disabled_at = ? WHERE id = ? AND org_id = ? AND disabled_at IS NULL",
                               arguments: [StoredCoding.milliseconds(date), id.rawValue, organization.rawValue])
                guard db.changesCount == 1 else { return false }
                try db.execute(sql: "DELETE FROM console_sessions WHERE user_id = ?", arguments: [id.rawValue])
                return true
            }
        }
    }

    public func createSession(_ session: ConsoleSession) async throws {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "INSERT INTO console_sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)", arguments: [
                    session.tokenHash, session.user.rawValue, StoredCoding.milliseconds(session.createdAt), StoredCoding.milliseconds(session.expiresAt),
                ])
                try db.execute(sql: "UPDATE console_users SET last_sign_in_at = ? WHERE id = ?",
                               arguments: [StoredCoding.milliseconds(session.createdAt), session.user.rawValue])
            }
        }
    }

    public func session(tokenHash: String, at date: Date) async throws -> (session: ConsoleSession, user: ConsoleUser)? {
        try await read { db in
            try Row.fetchOne(db, sql: """
                SELECT u.id, u.org_id, u.email, u.role, u.created_at, u.disabled_at, u.last_sign_in_at, s.created_at, s.expires_at
                FROM console_sessions s JOIN console_users u ON u.id = s.user_id
                WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL
                """, arguments: [tokenHash, StoredCoding.milliseconds(date)]).map { row in
                let user = try Self.consoleUser(row)
                return (ConsoleSession(tokenHash: tokenHash, user: user.id, createdAt: StoredCoding.date(row[7]), expiresAt: StoredCoding.date(row[8])), user)
            }
        }
    }

    public func extendSession(tokenHash: String, until: Date) async throws {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "UPDATE console_sessions SET expires_at = ? WHERE token_hash = ?",
                               arguments: [StoredCoding.milliseconds(until), tokenHash])
            }
        }
    }

    public func endSession(tokenHash: String) async throws {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "DELETE FROM console_sessions WHERE token_hash = ?", arguments: [tokenHash])
            }
        }
    }

    public func pruneSessions(expiredBefore date: Date) async throws -> Int {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "DELETE FROM console_sessions WHERE expires_at <= ?", arguments: [StoredCoding.milliseconds(date)])
                return db.changesCount
            }
        }
    }

    public func nameScope(_ scope: Scope, _ name: String?, in organization: OrganizationID) async throws {
        try await storageErrors {
            try await pool.write { db in
                _ = try Self.requireOrganization(db, organization)
                if let name {
                    try db.execute(sql: """
                        INSERT INTO scope_names (org_id, path, name) VALUES (?, ?, ?)
                        ON CONFLICT (org_id, path) DO UPDATE SET name = excluded.name
                        """, arguments: [organization.rawValue, scope.path, name])
                } else {
                    try db.execute(sql: "DELETE FROM scope_names WHERE org_id = ? AND path = ?", arguments: [organization.rawValue, scope.path])
                }
            }
        }
    }

    public func scopeNames(in organization: OrganizationID) async throws -> [Scope: String] {
        try await read { db in
            var names: [Scope: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT path, name FROM scope_names WHERE org_id = ?", arguments: [organization.rawValue]) {
                names[try Scope(parsing: row[0])] = row[1]
            }
            return names
        }
    }

    public func dailyEvents(in organization: OrganizationID, from firstDay: Int64) async throws -> [DailyEvents] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT day, kind, channel, source, events FROM ledger_daily WHERE org_id = ? AND day >= ? AND events > 0 ORDER BY day
                """, arguments: [organization.rawValue, firstDay]).map { DailyEvents(day: $0[0], kind: $0[1], channel: $0[2], source: $0[3], events: $0[4]) }
        }
    }

    public func suppressionCounts(in organization: OrganizationID) async throws -> [SuppressionCount] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT list_id, channel, suppressions FROM suppression_counts WHERE org_id = ? AND suppressions > 0 ORDER BY list_id, channel
                """, arguments: [organization.rawValue]).map { SuppressionCount(list: ListID(rawValue: $0[0]), channel: $0[1], suppressions: $0[2]) }
        }
    }
}
