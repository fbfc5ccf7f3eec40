import Foundation
import HushCore
import Logging
import PostgresNIO

extension PostgresStore {
    public func createTrigger(_ trigger: Trigger, in organization: OrganizationID) async throws -> Trigger {
        let json = String(decoding: try JSONEncoder().encode(trigger), as: UTF8.self)
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        return try await transaction { connection in
            try await Self.requireValid(trigger, connection, in: organization, logger: logger)
            guard let id = try await connection.value("""
                INSERT INTO triggers (org_id, definition, created_at) VALUES (\(organization.rawValue), \(json), \(now))
                RETURNING id
                """, as: Int64.self, logger: logger)
            else {
                throw HushError(.storage, "the trigger was not written")
            }
            var stored = trigger
            stored.id = TriggerID(rawValue: id)
            return stored
        }
    }

    public func triggers(in organization: OrganizationID) async throws -> [Trigger] {
        let logger = self.logger
        return try await read { connection in try await Self.triggers(connection, in: organization, logger: logger) }
    }

    private static func triggers(_ connection: PostgresConnection, in organization: OrganizationID, logger: Logger) async throws -> [Trigger] {
        var triggers: [Trigger] = []
        for row in try await connection.rows("""
            SELECT id, definition FROM triggers WHERE org_id = \(organization.rawValue) AND deleted_at IS NULL ORDER BY id
            """, logger: logger) {
            let (id, definition) = try row.decode((Int64, String).self)
            var trigger = try JSONDecoder().decode(Trigger.self, from: Data(definition.utf8))
            trigger.id = TriggerID(rawValue: id)
            triggers.append(trigger)
        }
        return triggers
    }

    public func updateTrigger(_ trigger: Trigger, in organization: OrganizationID) async throws -> Trigger? {
        let json = String(decoding: try JSONEncoder().encode(trigger), as: UTF8.self)
        let logger = self.logger
        return try await transaction { connection in
            try await Self.requireValid(trigger, connection, in: organization, logger: logger)
            let updated = try await connection.value("""
                UPDATE triggers SET definition = \(json)
                WHERE id = \(trigger.id.rawValue) AND org_id = \(organization.rawValue) AND deleted_at IS NULL
                RETURNING id
                """, as: Int64.self, logger: logger)
            return updated == nil ? nil : trigger
        }
    }

    /// The lists a trigger records on are the organization's and not deleted, and no other
    /// trigger fires on its words: checked under the organization's row lock, so two nodes
    /// writing triggers at once cannot both pass.
    private static func requireValid(
        _ trigger: Trigger, _ connection: PostgresConnection, in organization: OrganizationID, logger: Logger
    ) async throws {
        try await connection.rows("SELECT 1 FROM organizations WHERE id = \(organization.rawValue) FOR NO KEY UPDATE", logger: logger)
        try trigger.requireNoTwin(among: try await triggers(connection, in: organization, logger: logger))
        for list in (trigger.then.optOut ?? trigger.then.optIn)?.lists ?? [] {
            guard try await activeList(connection, ListID(rawValue: list), in: organization, logger: logger) != nil else {
                throw HushError(.notFound, field: "then.lists", "no list \(list) in this organization")
            }
        }
    }

    /// False when there was no such trigger.
    public func deleteTrigger(_ id: TriggerID, in organization: OrganizationID) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        return try await transaction { connection in
            try await Self.softDelete(from: "triggers", id.rawValue, in: organization, at: now, connection, logger: logger)
        }
    }

    public func logActivity(_ activity: Activity, in organization: OrganizationID) async throws -> Activity {
        let logger = self.logger
        return try await transaction { connection in
            guard let id = try await connection.value("""
                INSERT INTO activities (org_id, type, address, disposition, scope, occurred_at, actor)
                VALUES (\(organization.rawValue), \(activity.type), \(activity.address.normalized), \(activity.disposition),
                        \(activity.scope.path), \(StoredCoding.milliseconds(activity.occurredAt)), \(activity.actor))
                RETURNING id
                """, as: Int64.self, logger: logger)
            else {
                throw HushError(.storage, "the activity was not written")
            }
            var stored = activity
            stored.id = ActivityID(rawValue: id)
            return stored
        }
    }
}
