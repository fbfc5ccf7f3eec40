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

    /// A cheap, well-spread hash of the subject that picks the shard.
    var shardHash: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(truncatingIfNeeded: organization.rawValue)
        var subject = subject
        subject.withUTF8 { bytes in
            for byte in bytes {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
        }
        return hash ^ (hash >> 29)
    }
}

/// A suppression as the index holds it: 48 bytes, no class references.
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

    /// Whether this entry and `other` name the same suppression (an opt-in lifts it).
    func sameSuppression(as other: IndexEntry) -> Bool {
        channel == other.channel && list == other.list && scope == other.scope
    }

    func block(contact: ContactID?, listName: String) -> Decision.Block {
        Decision.Block(
            list: list, listName: listName, scope: scope, channel: channel,
            since: Date(timeIntervalSince1970: Double(sinceMilliseconds) / 1000), source: source,
            eventSequence: eventSequence, contact: contact, hold: hold
        )
    }
}

/// The entries of one subject. Nearly every subject has one, held inline.
enum IndexEntries: Sendable {
    case one(IndexEntry)
    case many([IndexEntry])

    var count: Int {
        switch self {
        case .one: 1
        case .many(let entries): entries.count
        }
    }

    func forEach(_ body: (IndexEntry) -> Void) {
        switch self {
        case .one(let entry): body(entry)
        case .many(let entries): entries.forEach(body)
        }
    }

    /// Adds an entry unless the same suppression is already there (a held one replaces one
    /// that was not held); says whether the count grew.
    mutating func add(_ entry: IndexEntry) -> Bool {
        switch self {
        case .one(let existing):
            if existing.sameSuppression(as: entry) {
                if entry.hold && !existing.hold { self = .one(entry) }
                return false
            }
            self = .many([existing, entry])
        case .many(var entries):
            // Taken out of `self` first, so the append below does not copy the array.
            self = .one(entry)
            if let found = entries.firstIndex(where: { $0.sameSuppression(as: entry) }) {
                if entry.hold && !entries[found].hold { entries[found] = entry }
                self = .many(entries)
                return false
            }
            entries.append(entry)
            self = .many(entries)
        }
        return true
    }

    /// Removes the entry naming the same suppression; `nil` when nothing is left.
    func removing(_ entry: IndexEntry) -> (remaining: IndexEntries?, removed: Int) {
        switch self {
        case .one(let existing):
            return existing.sameSuppression(as: entry) ? (nil, 1) : (self, 0)
        case .many(var entries):
            let before = entries.count
            entries.removeAll { $0.sameSuppression(as: entry) }
            let removed = before - entries.count
            switch entries.count {
            case 0: return (nil, removed)
            case 1: return (.one(entries[0]), removed)
            default: return (.many(entries), removed)
            }
        }
    }
}
