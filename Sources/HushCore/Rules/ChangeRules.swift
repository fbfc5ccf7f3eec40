/// What a write needs to know of the list it names.
public struct ListFacts: Hashable, Sendable {
    public let id: ListID
    public let isDefault: Bool
    public let name: String
    public let channels: Set<Channel>

    public init(id: ListID, isDefault: Bool, name: String, channels: Set<Channel>) {
        self.id = id
        self.isDefault = isDefault
        self.name = name
        self.channels = channels
    }

    public init(_ list: OptOutList) {
        self.init(id: list.id, isDefault: list.isDefault, name: list.definition.name, channels: list.definition.channels)
    }
}

/// An opt-out checked against its list and organization, with what it covers.
public struct PlannedOptOut: Hashable, Sendable {
    public let optOut: OptOut
    public let list: ListFacts
    /// The channel the suppression is written for: the one asked for, or `all` when the
    /// organization does not take granular opt-outs and the person acted through a channel.
    public let channel: ChannelSelection

    /// Whether the suppression also goes on every contact the address is linked to: the person
    /// stopped every channel through one of their addresses, so every address of theirs stops.
    public var reachesLinkedContacts: Bool {
        channel == .all && optOut.source.comesFromThePerson
    }
}

/// The rules every write of opt-outs and opt-ins follows, whichever backend stores it. A backend
/// loads the facts these functions take (the list, the suppression already in force) and writes
/// what they decide; it decides nothing itself.
public enum ChangeRules {
    /// The list a change names, checked: it must be an active list of the organization
    /// (`facts` is nil when it is not) and cover the channel.
    public static func check(_ list: ListID, _ facts: ListFacts?, covers channel: ChannelSelection) throws(HushError) -> ListFacts {
        guard let facts else {
            throw HushError(.notFound, field: "list", "no list \(list) in this organization")
        }
        if case .only(let only) = channel, !facts.channels.contains(only) {
            throw HushError.invalid("channel", "the list \"\(facts.name)\" does not cover \(only)")
        }
        return facts
    }

    /// What an opt-out covers: its list checked, its channel checked against the address, and
    /// widened to every channel under the granular switch (DESIGN: a person who replies STOP or
    /// clicks a link stops everything unless the organization takes opt-outs per channel).
    public static func plan(_ optOut: OptOut, in organization: Organization, list facts: ListFacts?) throws(HushError) -> PlannedOptOut {
        let list = try check(optOut.list ?? organization.defaultList, facts, covers: optOut.channel)
        if case .address(let address) = optOut.subject, !optOut.channel.accepts(address.kind) {
            throw HushError.invalid("channel", "\(optOut.channel) sends to \(address.kind == .email ? "phone numbers" : "email addresses"), but \"\(address.input)\" is an \(address.kind == .email ? "email address" : "phone number")")
        }
        let widened = !organization.settings.granularOptOuts && optOut.source.arrivesThroughChannel
        return PlannedOptOut(optOut: optOut, list: list, channel: widened ? .all : optOut.channel)
    }

    /// What an opt-out does to the suppression of the same subject, channel, list and scope.
    public enum Write: Hashable, Sendable {
        /// One is in force and stays: the opt-out is already honoured, nothing is written.
        case keep
        /// None is in force: a new suppression and its event.
        case create
        /// A held opt-out over one that is not held: the held one replaces it, so only an admin
        /// with evidence can lift it.
        case replace
    }

    /// Opt-outs are idempotent: a second one for what is already suppressed changes nothing,
    /// except that a held one hardens a suppression that was not held. `existingHold` is nil
    /// when nothing is in force, else whether what is in force is held.
    public static func write(hold: Bool, over existingHold: Bool?) -> Write {
        guard let existingHold else { return .create }
        return hold && !existingHold ? .replace : .keep
    }

    /// Of two rows of one suppression (an address erased twice has, under its one hash, a row
    /// from each erased address row), the one that stands for both: a held one over one not
    /// held, else the earlier event. The erasure keeps that row and the index that entry.
    public static func stands(hold: Bool, sequence: Int64, over other: (hold: Bool, sequence: Int64)) -> Bool {
        hold != other.hold ? hold : sequence < other.sequence
    }

    /// Whether an opt-in lifts the suppression in force for what it names (DESIGN rule 2).
    public static func lifts(_ optIn: OptIn, _ suppression: Suppression) -> Bool {
        optIn.authority.mayLift(suppression)
    }
}
