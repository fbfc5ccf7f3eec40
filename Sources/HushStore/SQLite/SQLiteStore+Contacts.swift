import GRDB
import HushCore

extension SQLiteStore {
    public func link(_ addresses: [Address], to contact: ContactID, in organization: OrganizationID) async throws -> Contact {
        let now = StoredCoding.milliseconds(configuration.now())
        return try await write { db in
            let changes = try Self.link(db, [ContactLinks(contact: contact, addresses: addresses)], in: organization, now: now)
            return (try Self.contact(db, contact, in: organization) ?? Contact(id: contact, addresses: []), changes)
        }
    }

    public func link(_ links: [ContactLinks], in organization: OrganizationID) async throws {
        guard !links.isEmpty else { return }
        let now = StoredCoding.milliseconds(configuration.now())
        try await write { db in ((), try Self.link(db, links, in: organization, now: now)) }
    }

    /// Links each contact's addresses, creating rows as needed; the index changes it makes.
    private static func link(_ db: Database, _ links: [ContactLinks], in organization: OrganizationID, now: Int64) throws -> [IndexChange] {
        let transaction = try ChangeTransaction(db, organization: organization, now: now)
        let addressIDs = try transaction.addressRows(links.flatMap(\.addresses))
        var changes: [IndexChange] = []
        for link in links {
            let contactID = try Self.contactRow(db, link.contact, in: organization, now: now)
            for address in link.addresses {
                guard let addressID = addressIDs[address.normalized] else { throw HushError(.storage, "the address row was not written") }
                let linked = try Int64.fetchOne(db.cachedStatement(sql: """
                    INSERT INTO contact_links (contact_id, address_id, linked_at) VALUES (?, ?, ?)
                    ON CONFLICT DO NOTHING RETURNING id
                    """), arguments: [contactID, addressID, now])
                if linked != nil {
                    changes.append(.link(IndexKey(organization, address.normalized), link.contact))
                }
            }
        }
        return changes
    }

    public func contact(_ id: ContactID, in organization: OrganizationID) async throws -> Contact? {
        try await read { db in try Self.contact(db, id, in: organization) }
    }

    public func erasedKeys(of contact: ContactID, in organization: OrganizationID) async throws -> [(key: String, kind: Address.Kind)] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT DISTINCT a.key, a.kind FROM contacts c JOIN contact_links l ON l.contact_id = c.id JOIN addresses a ON a.id = l.address_id
                WHERE c.org_id = ? AND c.external_id = ? AND a.erased_at IS NOT NULL ORDER BY a.key
                """, arguments: [organization.rawValue, contact.externalID])
                .map { row in (key: row[0], kind: Address.Kind(rawValue: row[1]) ?? .email) }
        }
    }

    public func linkTimes(of address: Address, in organization: OrganizationID) async throws -> [ContactID: Int64] {
        try await read { db in
            var times: [ContactID: Int64] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT c.external_id, l.linked_at FROM addresses a
                JOIN contact_links l ON l.address_id = a.id JOIN contacts c ON c.id = l.contact_id
                WHERE a.org_id = ? AND a.key = ? AND a.erased_at IS NULL
                """, arguments: [organization.rawValue, address.normalized]) {
                let contact = try ContactID(parsing: row[0] as String)
                times[contact] = min(times[contact] ?? .max, row[1] as Int64)
            }
            return times
        }
    }

    static func contact(_ db: Database, _ id: ContactID, in organization: OrganizationID) throws -> Contact? {
        guard let contactID = try Int64.fetchOne(db, sql: "SELECT id FROM contacts WHERE org_id = ? AND external_id = ?",
                                                 arguments: [organization.rawValue, id.externalID])
        else { return nil }
        let addresses = try Row.fetchAll(db, sql: """
            SELECT a.key, a.kind, a.display FROM contact_links l JOIN addresses a ON a.id = l.address_id
            WHERE l.contact_id = ? AND a.erased_at IS NULL ORDER BY l.id
            """, arguments: [contactID])
            .map { row in Address(normalized: row[0], kind: Address.Kind(rawValue: row[1]) ?? .email, input: row[2]) }
        return Contact(id: id, addresses: addresses)
    }

    static func contactRow(_ db: Database, _ contact: ContactID, in organization: OrganizationID, now: Int64) throws -> Int64 {
        let id = try Int64.fetchOne(db, sql: """
            INSERT INTO contacts (org_id, external_id, created_at) VALUES (?, ?, ?)
            ON CONFLICT (org_id, external_id) DO UPDATE SET external_id = external_id
            RETURNING id
            """, arguments: [organization.rawValue, contact.externalID, now])
        guard let id else { throw HushError(.storage, "the contact row was not written") }
        return id
    }
}
