/// Who lifts an opt-out, and so which suppressions an opt-in may lift (DESIGN rule 2: only the
/// person, or an admin with recorded evidence). Every opt-in carries one, and the store lifts
/// nothing it does not allow, whichever door the opt-in came through: the API, the CLI, a
/// keyword, a trigger, a confirmation link or a CRM sync.
public enum LiftAuthority: Hashable, Sendable {
    /// An admin key with recorded consent: any suppression, held ones included.
    case admin
    /// The person, by a keyword from their own number (START) or a trigger their message or
    /// call fired: only what a keyword or a trigger stopped, and never a held suppression.
    case keyword
    /// The person, confirming a link that reached them: at most the suppressions (named by the
    /// events that made them) the request saw when it was made, only those the person made
    /// themselves (`personMade`: DESIGN, "only what they opted out of themselves"), and never a
    /// held one. What a rep, an import, a CRM or the API recorded is lifted by an admin.
    case confirmation(Set<Int64>)

    /// The sources of opt-outs the person made themselves: a link, the preference center, a
    /// keyword from their number, a trigger their message or call fired.
    public static let personMade: Set<Source> = [.link, .oneClick, .preferenceCenter, .keyword, .trigger]

    /// Whether the person's confirmation may lift what `block` names: their own, not held.
    public static func personMayLift(_ block: Decision.Block) -> Bool {
        !block.hold && personMade.contains(block.source)
    }

    /// Whether an opt-in of this authority may lift `suppression`.
    public func mayLift(_ suppression: Suppression) -> Bool {
        switch self {
        case .admin: true
        case .keyword: !suppression.hold && (suppression.source == .keyword || suppression.source == .trigger)
        case .confirmation(let snapshot):
            !suppression.hold && Self.personMade.contains(suppression.source) && snapshot.contains(suppression.eventSequence)
        }
    }
}
