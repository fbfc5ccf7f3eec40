import Foundation
import HushCore
import Logging
import PostgresNIO

extension PostgresStore {
    /// Concurrent calls share a transaction (group commit), except large ones, which overlap
    /// (`recordAlone`); each call is applied whole or not at all, and is durable when it returns.
    public func record(_ optOuts: [OptOut], in organization: OrganizationID) async throws -> [OptOutOutcome] {
        try indexed.requireRoom(for: optOuts)
        if optOuts.count >= Self.ownTransaction {
            return try await recordAlone(optOuts, in: organization, now: configuration.now())
        }
        return try await groupCommit.submit(optOuts, in: organization)
    }

    public func record(_ optIns: [OptIn], in organization: OrganizationID) async throws -> [OptInOutcome] {
        let now = StoredCoding.milliseconds(configuration.now())
        let erasureKey = configuration.erasureKey
        let logger = self.logger
        let instance = database.instance
        return try await write { connection in
            var transaction = try await PostgresChangeTransaction(
                connection, logger: logger, organization: organization, now: now, notifying: instance)
            var outcomes: [OptInOutcome] = []
            outcomes.reserveCapacity(optIns.count)
            for (offset, optIn) in optIns.enumerated() {
                do {
                    outcomes.append(try await transaction.record(optIn, erasureKey: erasureKey))
                } catch let error as HushError where optIns.count > 1 {
                    throw error.inItem(offset)
                }
            }
            return (outcomes, transaction.changes)
        }
    }

    // MARK: Contacts

    public func link(_ addresses: [Address], to contact: ContactID, in organization: OrganizationID) async throws -> Contact {
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        let instance = database.instance
        return try await write { connection in
            let changes = try await Self.link(
                connection, [ContactLinks(contact: contact, addresses: addresses)], in: organization, now: now, notifying: instance, logger: logger)
            let linked = try await Self.contact(connection, contact, in: organization, logger: logger)
            return (linked ?? Contact(id: contact, addresses: []), changes)
        }
    }

    public func link(_ links: [ContactLinks], in organization: OrganizationID) async throws {
        guard !links.isEmpty else { return }
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        let instance = database.instance
        try await write { connection in
            ((), try await Self.link(connection, links, in: organization, now: now, notifying: instance, logger: logger))
        }
    }

    /// Links each contact's addresses, creating rows as needed; the index changes it makes.
    private static func link(
        _ connection: PostgresConnection, _ links: [ContactLinks], in organization: OrganizationID, now: Int64, notifying instance: String,
        logger: Logger
    ) async throws -> [IndexChange] {
        let transaction = try await PostgresChangeTransaction(connection, logger: logger, organization: organization, now: now, notifying: instance)
        var changes: [IndexChange] = []
        for link in links {
            let contactID = try await Self.contactRow(connection, link.contact, in: organization, now: now, logger: logger)
            for address in link.addresses {
                let addressID = try await transaction.addressRow(address)
                let linked = try await connection.value("""
                    INSERT INTO contact_links (contact_id, address_id, linked_at) VALUES (\(contactID), \(addressID), \(now))
                    ON CONFLICT DO NOTHING RETURNING id
                    """, as: Int64.self, logger: logger)
                if linked != nil {
                    changes.append(.link(IndexKey(organization, address.normalized), link.contact))
                }
            }
        }
        return changes
    }

    public func contact(_ id: ContactID, in organization: OrganizationID) async throws -> Contact? {
        let logger = self.logger
        return try await read { try await Self.contact($0, id, in: organization, logger: logger) }
    }

    public func erasedKeys(of contact: ContactID, in organization: OrganizationID) async throws -> [(key: String, kind: Address.Kind)] {
        let logger = self.logger
        return try await read { connection in
            var keys: [(key: String, kind: Address.Kind)] = []
            for try await (key, kind) in try await connection.query("""
                SELECT DISTINCT a.key, a.kind FROM contacts c JOIN contact_links l ON l.contact_id = c.id JOIN addresses a ON a.id = l.address_id
                WHERE c.org_id = \(organization.rawValue) AND c.external_id = \(contact.externalID) AND a.erased_at IS NOT NULL ORDER BY a.key
                """, logger: logger).decode((String, String).self) {
                keys.append((key: key, kind: Address.Kind(rawValue: kind) ?? .email))
            }
            return keys
        }
    }

    public func linkTimes(of address: Address, in organization: OrganizationID) async throws -> [ContactID: Int64] {
        let logger = self.logger
        return try await read { connection in
            var times: [ContactID: Int64] = [:]
            for try await (external, linkedAt) in try await connection.query("""
                SELECT c.external_id, l.linked_at FROM addresses a
                JOIN contact_links l ON l.address_id = a.id JOIN contacts c ON c.id = l.contact_id
                WHERE a.org_id = \(organization.rawValue) AND a.key = \(address.normalized) AND a.erased_at IS NULL
                """, logger: logger).decode((String, Int64).self) {
                let contact = try ContactID(parsing: external)
                times[contact] = min(times[contact] ?? .max, linkedAt)
            }
            return times
        }
    }

    static func contact(_ connection: PostgresConnection, _ id: ContactID, in organization: OrganizationID, logger: Logger) async throws -> Contact? {
        guard let contactID = try await connection.value("""
            SELECT id FROM contacts WHERE org_id = \(organization.rawValue) AND external_id = \(id.externalID)
            """, as: Int64.self, logger: logger)
        else { return nil }
        var addresses: [Address] = []
        for try await (key, kind, display) in try await connection.query("""
            SELECT a.key, a.kind, a.display FROM contact_links l JOIN addresses a ON a.id = l.address_id
            WHERE l.contact_id = \(contactID) AND a.erased_at IS NULL ORDER BY l.id
            """, logger: logger).decode((String, String, String?).self) {
            addresses.append(Address(normalized: key, kind: Address.Kind(rawValue: kind) ?? .email, input: display ?? key))
        }
        return Contact(id: id, addresses: addresses)
    }

    static func contactRow(_ connection: PostgresConnection, _ contact: ContactID, in organization: OrganizationID, now: Int64, logger: Logger) async throws -> Int64 {
        if let id = try await connection.value("""
            INSERT INTO contacts (org_id, external_id, created_at) VALUES (\(organization.rawValue), \(contact.externalID), \(now))
            ON CONFLICT (org_id, external_id) DO NOTHING
            RETURNING id
            """, as: Int64.self, logger: logger) {
            return id
        }
        guard let id = try await connection.value("""
            SELECT id FROM contacts WHERE org_id = \(organization.rawValue) AND external_id = \(contact.externalID)
            """, as: Int64.self, logger: logger)
        else { throw HushError(.storage, "the contact row was not written") }
        return id
    }
}
