import Foundation
import HushCore
import Logging
import PostgresNIO

extension PostgresStore {
    public func createOrganization(named name: String, settings: OrganizationSettings) async throws -> Organization {
        try Organization.validateName(name)
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        let organization = try await transaction { connection in
            // Unique by the database, not by a read first: two nodes creating one name at once
            // get one organization and one conflict.
            guard let organization = try await connection.value("""
                INSERT INTO organizations (name, granular_opt_outs, default_region, brand_name, brand_logo_url, brand_color, created_at)
                VALUES (\(name), \(settings.granularOptOuts), \(settings.defaultRegion?.rawValue), \(settings.branding.displayName),
                        \(settings.branding.logoURL), \(settings.branding.color), \(now))
                ON CONFLICT (name) DO NOTHING
                RETURNING id
                """, as: Int64.self, logger: logger)
            else {
                throw HushError(.conflict, field: "name", "an organization named \"\(name)\" already exists")
            }
            let list = try await connection.value("""
                INSERT INTO lists (org_id, name, description, channels, is_default, created_at)
                VALUES (\(organization), \(ListDefinition.defaultName), 'Honoured by every check.',
                        \(StoredCoding.channels(Set(Channel.allCases))), true, \(now))
                RETURNING id
                """, as: Int64.self, logger: logger)
            guard let list else { throw HushError(.storage, "the default list was not written") }
            return Organization(
                id: OrganizationID(rawValue: organization), name: name, settings: settings, defaultList: ListID(rawValue: list))
        }
        indexed.noteListName(ListDefinition.defaultName, for: organization.defaultList)
        return organization
    }

    public func organization(named name: String) async throws -> Organization? {
        let logger = self.logger
        return try await read { try await Self.organizationRow($0, name: name, logger: logger) }
    }

    public func cachedOrganization(_ id: OrganizationID) -> Organization? {
        directory.cachedOrganization(id)
    }

    public func organization(_ id: OrganizationID) async throws -> Organization? {
        let logger = self.logger
        return try await directory.organization(id) {
            try await read { try await Self.organizationRow($0, id: id, logger: logger) }
        }
    }

    public func updateSettings(
        of organization: OrganizationID, _ change: @Sendable (inout OrganizationSettings) throws -> Void
    ) async throws -> Organization {
        defer { directory.forget(organization) }
        let logger = self.logger
        return try await transaction { connection in
            // The row as stored, locked until the commit: a change on another node meanwhile
            // waits, and then reads this one's.
            try await connection.rows("SELECT 1 FROM organizations WHERE id = \(organization.rawValue) FOR NO KEY UPDATE", logger: logger)
            guard var settings = try await Self.organizationRow(connection, id: organization, logger: logger)?.settings else {
                throw HushError(.notFound, field: "organization", "no such organization")
            }
            try change(&settings)
            try await connection.rows("""
                UPDATE organizations SET granular_opt_outs = \(settings.granularOptOuts), default_region = \(settings.defaultRegion?.rawValue),
                    brand_name = \(settings.branding.displayName), brand_logo_url = \(settings.branding.logoURL),
                    brand_color = \(settings.branding.color)
                WHERE id = \(organization.rawValue)
                """, logger: logger)
            guard let updated = try await Self.organizationRow(connection, id: organization, logger: logger) else {
                throw HushError(.notFound, "no such organization")
            }
            return updated
        }
    }

    static func organizationRow(_ connection: PostgresConnection, id: OrganizationID? = nil, name: String? = nil, logger: Logger) async throws -> Organization? {
        let rows = try await connection.rows("""
            SELECT o.id, o.name, o.granular_opt_outs, o.default_region, o.brand_name, o.brand_logo_url, o.brand_color, l.id
            FROM organizations o JOIN lists l ON l.org_id = o.id AND l.is_default
            WHERE o.id = \(id?.rawValue ?? -1) OR o.name = \(name ?? "")
            """, logger: logger)
        guard let row = rows.first else { return nil }
        let (id, name, granular, region, brandName, logoURL, color, defaultList) =
            try row.decode((Int64, String, Bool, String?, String?, String?, String?, Int64).self)
        return Organization(
            id: OrganizationID(rawValue: id), name: name,
            settings: OrganizationSettings(
                granularOptOuts: granular, defaultRegion: region.flatMap(Region.init(code:)),
                branding: Branding(displayName: brandName, logoURL: logoURL, color: color)),
            defaultList: ListID(rawValue: defaultList))
    }

    static func requireOrganization(_ connection: PostgresConnection, _ id: OrganizationID, logger: Logger) async throws -> Organization {
        guard let organization = try await organizationRow(connection, id: id, logger: logger) else {
            throw HushError(.notFound, field: "organization", "no such organization")
        }
        return organization
    }

    /// Marks a row of an organization deleted (`deleted_at`), as triggers and rulesets are;
    /// false when there was no such row not yet deleted. `table` is one of the store's own names.
    static func softDelete(
        from table: StaticString, _ id: Int64, in organization: OrganizationID, at now: Int64, _ connection: PostgresConnection,
        logger: Logger
    ) async throws -> Bool {
        let deleted = try await connection.rows("""
            UPDATE \(unescaped: "\(table)") SET deleted_at = \(now)
            WHERE id = \(id) AND org_id = \(organization.rawValue) AND deleted_at IS NULL
            RETURNING id
            """, logger: logger)
        return deleted.count == 1
    }
}
