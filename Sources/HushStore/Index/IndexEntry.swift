import Foundation
import HushCore

/// Where the index files a suppression: the organization and the subject key (a normalized
/// address, an `erased:` hash, or `contact:<external id>`).
struct IndexKey: Hashable, Sendable {
    let organization: OrganizationID
    let subject: String

    init(_ organization: OrganizationID, _ subject: String) {
        self.organization = organization
        self.subject = subject
    }

    init(_ organization: OrganizationID, _ subject: SubjectKey) {
        self.init(organization, subject.stored)
    }
}

/// A suppression as changes carry it to the index, which packs it (`PackedEntry`).
struct IndexEntry: Hashable, Sendable {
    let eventSequence: Int64
    let sinceMilliseconds: Int64
    let list: ListID
    let scope: Scope
    let channel: ChannelSelection
    let source: Source
    let listIsDefault: Bool
    let hold: Bool

    init(_ suppression: Suppression, listIsDefault: Bool) {
        self.hold = suppression.hold
        self.eventSequence = suppression.eventSequence
        self.sinceMilliseconds = Int64((suppression.since.timeIntervalSince1970 * 1000).rounded())
        self.list = suppression.list
        self.scope = suppression.scope
        self.channel = suppression.channel
        self.source = suppression.source
        self.listIsDefault = listIsDefault
    }

    init(
        eventSequence: Int64, sinceMilliseconds: Int64, list: ListID, scope: Scope, channel: ChannelSelection,
        source: Source, listIsDefault: Bool, hold: Bool = false
    ) {
        self.hold = hold
        self.eventSequence = eventSequence
        self.sinceMilliseconds = sinceMilliseconds
        self.list = list
        self.scope = scope
        self.channel = channel
        self.source = source
        self.listIsDefault = listIsDefault
    }

    init(_ packed: PackedEntry, scope: Scope) {
        self.init(
            eventSequence: packed.eventSequence, sinceMilliseconds: packed.sinceMilliseconds, list: packed.list, scope: scope,
            channel: packed.channel, source: packed.source, listIsDefault: packed.listIsDefault, hold: packed.hold)
    }

    func packed(scope: ScopeID) -> PackedEntry {
        PackedEntry(
            eventSequence: eventSequence, sinceMilliseconds: sinceMilliseconds, list: list, scope: scope, channel: channel,
            source: source, listIsDefault: listIsDefault, hold: hold)
    }

    func block(contact: ContactID?, listName: String) -> Decision.Block {
        Decision.Block(
            list: list, listName: listName, scope: scope, channel: channel, sinceMilliseconds: sinceMilliseconds,
            source: source, eventSequence: eventSequence, contact: contact, hold: hold)
    }
}

