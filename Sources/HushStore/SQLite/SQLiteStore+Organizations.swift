import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    public func createOrganization(named name: String, settings: OrganizationSettings) async throws -> Organization {
        try Organization.validateName(name)
        let now = StoredCoding.milliseconds(configuration.now())
        let organization = try await storageErrors {
            try await pool.write { db in
                // Unique by the database, not by a read first: two processes (or nodes) creating
                // one name at once get one organization and one conflict.
                guard let organization = try Int64.fetchOne(
                    db,
                    sql: """
                        INSERT INTO organizations (name, granular_opt_outs, default_region, brand_name, brand_logo_url, brand_color, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (name) DO NOTHING
                        RETURNING id
                        """,
                    arguments: [
                        name, settings.granularOptOuts, settings.defaultRegion?.rawValue, settings.branding.displayName,
                        settings.branding.logoURL, settings.branding.color, now,
                    ])
                else {
                    throw HushError(.conflict, field: "name", "an organization named \"\(name)\" already exists")
                }
                try db.cachedStatement(sql: """
                    INSERT INTO lists (org_id, name, description, channels, is_default, created_at)
                    VALUES (?, ?, 'Honoured by every check.', ?, 1, ?)
                    """).execute(arguments: [organization, ListDefinition.defaultName, StoredCoding.channels(Set(Channel.allCases)), now])
                return Organization(
                    id: OrganizationID(rawValue: organization), name: name, settings: settings,
                    defaultList: ListID(rawValue: db.lastInsertedRowID))
            }
        }
        indexed.noteListName(ListDefinition.defaultName, for: organization.defaultList)
        return organization
    }

    public func organization(named name: String) async throws -> Organization? {
        try await read { db in try Self.organizationRow(db, sql: "o.name = ?", name) }
    }

    public func cachedOrganization(_ id: OrganizationID) -> Organization? {
        directory.cachedOrganization(id)
    }

    public func organization(_ id: OrganizationID) async throws -> Organization? {
        try await directory.organization(id) {
            try await read { db in try Self.organizationRow(db, sql: "o.id = ?", id.rawValue) }
        }
    }

    public func updateSettings(
        of organization: OrganizationID, _ change: @Sendable (inout OrganizationSettings) throws -> Void
    ) async throws -> Organization {
        defer { directory.forget(organization) }
        return try await storageErrors {
            try await pool.write { db in
                var settings = try Self.requireOrganization(db, organization).settings
                try change(&settings)
                try db.execute(
                    sql: """
                        UPDATE organizations SET granular_opt_outs = ?, default_region = ?, brand_name = ?, brand_logo_url = ?,
                            brand_color = ?
                        WHERE id = ?
                        """,
                    arguments: [
                        settings.granularOptOuts, settings.defaultRegion?.rawValue, settings.branding.displayName,
                        settings.branding.logoURL, settings.branding.color, organization.rawValue,
                    ])
                guard let updated = try Self.organizationRow(db, sql: "o.id = ?", organization.rawValue) else {
                    throw HushError(.notFound, "no such organization")
                }
                return updated
            }
        }
    }

    static func organizationRow(_ db: Database, sql condition: String, _ argument: some DatabaseValueConvertible) throws -> Organization? {
        let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT o.id, o.name, o.granular_opt_outs, o.default_region, o.brand_name, o.brand_logo_url, o.brand_color,
                   l.id AS default_list
            FROM organizations o JOIN lists l ON l.org_id = o.id AND l.is_default = 1
            WHERE \(condition)
            """), arguments: [argument])
        guard let row else { return nil }
        let region: String? = row["default_region"]
        return Organization(
            id: OrganizationID(rawValue: row["id"]), name: row["name"],
            settings: OrganizationSettings(
                granularOptOuts: row["granular_opt_outs"], defaultRegion: region.flatMap(Region.init(code:)),
                branding: Branding(displayName: row["brand_name"], logoURL: row["brand_logo_url"], color: row["brand_color"])),
            defaultList: ListID(rawValue: row["default_list"]))
    }

    static func requireOrganization(_ db: Database, _ id: OrganizationID) throws -> Organization {
        guard let organization = try organizationRow(db, sql: "o.id = ?", id.rawValue) else {
            throw HushError(.notFound, field: "organization", "no such organization")
        }
        return organization
    }
}
