import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    public func createTrigger(_ trigger: Trigger, in organization: OrganizationID) async throws -> Trigger {
        let json = String(decoding: try JSONEncoder().encode(trigger), as: UTF8.self)
        let now = StoredCoding.milliseconds(configuration.now())
        return try await storageErrors {
            try await pool.write { db in
                try Self.requireValid(trigger, db, in: organization)
                try db.execute(sql: "INSERT INTO triggers (org_id, definition, created_at) VALUES (?, ?, ?)",
                               arguments: [organization.rawValue, json, now])
                var stored = trigger
                stored.id = TriggerID(db.lastInsertedRowID)
                return stored
            }
        }
    }

    public func triggers(in organization: OrganizationID) async throws -> [Trigger] {
        try await read { db in try Self.triggers(db, in: organization) }
    }

    private static func triggers(_ db: Database, in organization: OrganizationID) throws -> [Trigger] {
        try Row.fetchAll(db, sql: "SELECT id, definition FROM triggers WHERE org_id = ? AND deleted_at IS NULL ORDER BY id",
                         arguments: [organization.rawValue]).map { row in
            var trigger = try JSONDecoder().decode(Trigger.self, from: Data((row[1] as String).utf8))
            trigger.id = row[0]
            return trigger
        }
    }

    public func updateTrigger(_ trigger: Trigger, in organization: OrganizationID) async throws -> Trigger? {
        let json = String(decoding: try JSONEncoder().encode(trigger), as: UTF8.self)
        return try await storageErrors {
            try await pool.write { db in
                try Self.requireValid(trigger, db, in: organization)
                try db.execute(sql: "UPDATE triggers SET definition = ? WHERE id = ? AND org_id = ? AND deleted_at IS NULL",
                               arguments: [json, trigger.id, organization.rawValue])
                return db.changesCount == 1 ? trigger : nil
            }
        }
    }

    /// The lists a trigger records on are the organization's and not deleted, and no other
    /// trigger fires on its words (the write lock holds every other writer off meanwhile).
    private static func requireValid(_ trigger: Trigger, _ db: Database, in organization: OrganizationID) throws {
        try trigger.requireNoTwin(among: try triggers(db, in: organization))
        for list in (trigger.then.optOut ?? trigger.then.optIn)?.lists ?? [] {
            guard try activeList(db, ListID(rawValue: list), in: organization) != nil else {
                throw HushError(.notFound, field: "then.lists", "no list \(list) in this organization")
            }
        }
    }

    /// False when there was no such trigger.
    public func deleteTrigger(_ id: TriggerID, in organization: OrganizationID) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        return try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: "UPDATE triggers SET deleted_at = ? WHERE id = ? AND org_id = ? AND deleted_at IS NULL",
                               arguments: [now, id, organization.rawValue])
                return db.changesCount == 1
            }
        }
    }

    public func logActivity(_ activity: Activity, in organization: OrganizationID) async throws -> Activity {
        try await storageErrors {
            try await pool.write { db in
                try db.execute(sql: """
                    INSERT INTO activities (org_id, type, address, disposition, scope, occurred_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [
                        organization.rawValue, activity.type, activity.address.normalized, activity.disposition, activity.scope.path,
                        StoredCoding.milliseconds(activity.occurredAt), activity.actor,
                    ])
                var stored = activity
                stored.id = ActivityID(db.lastInsertedRowID)
                return stored
            }
        }
    }
}
