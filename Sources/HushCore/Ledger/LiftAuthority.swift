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
    /// events that made them) the request saw when it was made, and never a held one.
    case confirmation(Set<Int64>)

    /// Whether an opt-in of this authority may lift `suppression`.
    public func mayLift(_ suppression: Suppression) -> Bool {
        switch self {
        case .admin: true
        case .keyword: !suppression.hold && (suppression.source == .keyword || suppression.source == .trigger)
        case .confirmation(let snapshot): !suppression.hold && snapshot.contains(suppression.eventSequence)
        }
    }
}
