import Foundation
import GRDB
import HushCore

/// One write transaction's worth of opt-outs and opt-ins: appends ledger events, updates the
/// projection and collects what the index must apply. Sequences are taken from the ledger head
/// once, which is safe because SQLite runs one write transaction at a time.
struct ChangeTransaction {
    private let db: Database
    private let organization: Organization
    private let now: Int64
    private var nextSequence: Int64
    private var listIsDefault: [ListID: Bool] = [:]
    private(set) var changes: [IndexChange] = []

    init(_ db: Database, organization: OrganizationID, now: Int64) throws {
        self.db = db
        self.organization = try SQLiteStore.requireOrganization(db, organization)
        self.now = now
        self.nextSequence = (try Int64.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(seq), 0) + 1 FROM ledger"))) ?? 1
    }

    mutating func record(_ optOut: OptOut) throws -> OptOutOutcome {
        let list = optOut.list ?? organization.defaultList
        let isDefault = try checkList(list, channel: optOut.channel)
        var channel = optOut.channel
        if !organization.settings.granularOptOuts && optOut.source.arrivesThroughChannel {
            channel = .all
        }
        var targets: [Target] = []
        switch optOut.subject {
        case .address(let address):
            guard optOut.channel.accepts(address.kind) else {
                throw HushError.invalid("channel", "\(optOut.channel) sends to \(address.kind == .email ? "phone numbers" : "email addresses"), but \"\(address.input)\" is an \(address.kind == .email ? "email address" : "phone number")")
            }
            let addressID = try addressRow(address)
            targets.append(Target(addressID: addressID, contactID: nil, key: address.normalized))
            if channel == .all && optOut.source.arrivesThroughChannel {
                // The person stopped every channel: that reaches every address of their contacts.
                targets += try contacts(ofAddress: addressID).map { Target(addressID: nil, contactID: $0.rowID, key: IndexKey.contactPrefix + $0.externalID) }
            }
        case .contact(let contact):
            let contactID = try contactRow(contact)
            targets.append(Target(addressID: nil, contactID: contactID, key: IndexKey.contactPrefix + contact.externalID))
        }

        var suppressions: [Suppression] = []
        var events: [LedgerEvent] = []
        for target in targets {
            let sequence = nextSequence
            let inserted = try Int64.fetchOne(db.cachedStatement(sql: """
                INSERT INTO suppressions (org_id, address_id, contact_id, subject_key, channel, list_id, scope, since, source, event_seq)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT DO NOTHING
                RETURNING id
                """), arguments: [
                    organization.id.rawValue, target.addressID, target.contactID, target.key, channel.rawValue,
                    list.rawValue, optOut.scope.path, now, optOut.source.rawValue, sequence,
                ])
            guard inserted != nil else {
                suppressions += try existingSuppression(target, channel: channel, list: list, scope: optOut.scope)
                continue
            }
            nextSequence += 1
            let event = try appendEvent(
                .optOut, sequence: sequence, target: target, channel: channel, scope: optOut.scope, list: list,
                source: optOut.source, actor: optOut.actor, evidence: optOut.evidence)
            let suppression = Suppression(
                organization: organization.id, subject: event.subject, channel: channel, list: list,
                scope: optOut.scope, since: event.recordedAt, source: optOut.source, eventSequence: sequence)
            events.append(event)
            suppressions.append(suppression)
            changes.append(.add(IndexKey(organization.id, target.key), IndexEntry(suppression, listIsDefault: isDefault)))
        }
        return OptOutOutcome(suppressions: suppressions, events: events)
    }

    mutating func record(_ optIn: OptIn, erasureKey: ErasureKey) throws -> OptInOutcome {
        let list = optIn.list ?? organization.defaultList
        let isDefault = try checkList(list, channel: optIn.channel)
        let targets: [Target]
        switch optIn.subject {
        case .address(let address):
            // The live address, and its erased hash: a person who was erased can still come back.
            let hashed = erasureKey.hashedKey(for: address.normalized)
            targets = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT id, key FROM addresses WHERE org_id = ? AND ((key = ? AND erased_at IS NULL) OR key = ?)
                """), arguments: [organization.id.rawValue, address.normalized, hashed])
                .map { Target(addressID: $0[0], contactID: nil, key: $0[1]) }
        case .contact(let contact):
            targets = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM contacts WHERE org_id = ? AND external_id = ?"),
                                         arguments: [organization.id.rawValue, contact.externalID])
                .map { [Target(addressID: nil, contactID: $0, key: IndexKey.contactPrefix + contact.externalID)] } ?? []
        }
        for target in targets {
            let lifted = try Row.fetchOne(db.cachedStatement(sql: """
                DELETE FROM suppressions
                WHERE (address_id = ? OR contact_id = ?) AND channel = ? AND list_id = ? AND scope = ?
                RETURNING since, source, event_seq
                """), arguments: [target.addressID, target.contactID, optIn.channel.rawValue, list.rawValue, optIn.scope.path])
            guard let lifted else { continue }
            let sequence = nextSequence
            nextSequence += 1
            let event = try appendEvent(
                .optIn, sequence: sequence, target: target, channel: optIn.channel, scope: optIn.scope, list: list,
                source: optIn.source, actor: optIn.actor, evidence: optIn.consent.evidence)
            let suppression = try Suppression(
                organization: organization.id, subject: event.subject, channel: optIn.channel, list: list,
                scope: optIn.scope, since: SQLiteCoding.date(lifted[0]), source: SQLiteCoding.source(lifted[1]),
                eventSequence: lifted[2])
            changes.append(.remove(IndexKey(organization.id, target.key), IndexEntry(suppression, listIsDefault: isDefault)))
            return OptInOutcome(lifted: suppression, event: event)
        }
        return OptInOutcome(lifted: nil, event: nil)
    }

    // MARK: Rows

    private struct Target {
        let addressID: Int64?
        let contactID: Int64?
        let key: String
        var subject: SubjectKey { SQLiteStore.subject(key) }
    }

    /// Whether the list is `default`; throws when it is not an active list of this organization
    /// or does not cover the channel.
    private mutating func checkList(_ list: ListID, channel: ChannelSelection) throws -> Bool {
        if let known = listIsDefault[list] { return known }
        guard let stored = try SQLiteStore.activeList(db, list, in: organization.id) else {
            throw HushError(.notFound, field: "list", "no list \(list) in this organization")
        }
        if case .only(let only) = channel, !stored.definition.channels.contains(only) {
            throw HushError.invalid("channel", "the list \"\(stored.definition.name)\" does not cover \(only)")
        }
        listIsDefault[list] = stored.isDefault
        return stored.isDefault
    }

    func addressRow(_ address: Address) throws -> Int64 {
        let id = try Int64.fetchOne(db.cachedStatement(sql: """
            INSERT INTO addresses (org_id, kind, key, display) VALUES (?, ?, ?, ?)
            ON CONFLICT (org_id, key) WHERE erased_at IS NULL DO UPDATE SET display = display
            RETURNING id
            """), arguments: [organization.id.rawValue, address.kind.rawValue, address.normalized, address.input])
        guard let id else { throw HushError(.storage, "the address row was not written") }
        return id
    }

    private func contactRow(_ contact: ContactID) throws -> Int64 {
        try SQLiteStore.contactRow(db, contact, in: organization.id, now: now)
    }

    private func contacts(ofAddress address: Int64) throws -> [(rowID: Int64, externalID: String)] {
        try Row.fetchAll(db.cachedStatement(sql: """
            SELECT c.id, c.external_id FROM contact_links l JOIN contacts c ON c.id = l.contact_id WHERE l.address_id = ?
            """), arguments: [address]).map { ($0[0], $0[1]) }
    }

    private func existingSuppression(_ target: Target, channel: ChannelSelection, list: ListID, scope: Scope) throws -> [Suppression] {
        try Row.fetchAll(db.cachedStatement(sql: """
            SELECT since, source, event_seq FROM suppressions
            WHERE (address_id = ? OR contact_id = ?) AND channel = ? AND list_id = ? AND scope = ?
            """), arguments: [target.addressID, target.contactID, channel.rawValue, list.rawValue, scope.path])
            .map { row in
                try Suppression(
                    organization: organization.id, subject: target.subject, channel: channel, list: list, scope: scope,
                    since: SQLiteCoding.date(row[0]), source: SQLiteCoding.source(row[1]), eventSequence: row[2])
            }
    }

    private func appendEvent(
        _ kind: EventKind, sequence: Int64, target: Target, channel: ChannelSelection, scope: Scope, list: ListID,
        source: Source, actor: String, evidence: Evidence
    ) throws -> LedgerEvent {
        try db.cachedStatement(sql: """
            INSERT INTO ledger (seq, org_id, kind, recorded_at, address_id, contact_id, channel, scope, list_id, source, actor)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute( arguments: [
                sequence, organization.id.rawValue, kind.rawValue, now, target.addressID, target.contactID,
                channel.rawValue, scope.path, list.rawValue, source.rawValue, actor,
            ])
        if !evidence.isEmpty {
            try db.cachedStatement(sql: "INSERT INTO evidence (event_seq, json) VALUES (?, ?)").execute(
                           arguments: [sequence, SQLiteCoding.json(evidence)])
        }
        return LedgerEvent(
            sequence: sequence, organization: organization.id, kind: kind, recordedAt: SQLiteCoding.date(now),
            subject: target.subject, channel: channel, scope: scope, list: list, source: source, actor: actor,
            evidence: evidence)
    }
}
