/// Where a change came from.
public enum Source: String, Hashable, Sendable, CaseIterable, Codable {
    case api, link
    case oneClick = "one_click"
    case preferenceCenter = "preference_center"
    case keyword, rep, trigger, crm
    case `import`

    public init(parsing input: String) throws(HushError) {
        guard let source = Source(rawValue: input) else {
            let names = Source.allCases.map(\.rawValue).joined(separator: ", ")
            throw .invalid("source", "\"\(input)\" is not a source; use one of \(names)")
        }
        self = source
    }

    /// The sources a caller may name: the others (`link`, `one_click`, `keyword`,
    /// `preference_center`, `trigger`) are what Hush itself records when the person acts.
    public static let claimable: [Source] = [.api, .rep, .crm, .import]

    /// A source named by an API or CLI caller: one of `claimable`.
    public init(claimed input: String) throws(HushError) {
        guard let source = Source(rawValue: input), Source.claimable.contains(source) else {
            let names = Source.claimable.map(\.rawValue).joined(separator: ", ")
            throw .invalid("source", "\"\(input)\" is not a source a caller may name; use one of \(names)")
        }
        self = source
    }

    /// Whether the person acted through a channel (clicked an email link, replied STOP to a
    /// text). Such opt-outs cover every channel unless the organization has granular opt-outs.
    public var arrivesThroughChannel: Bool {
        switch self {
        case .link, .oneClick, .keyword: true
        case .api, .preferenceCenter, .rep, .trigger, .crm, .import: false
        }
    }

    /// Whether the person stopped contact themselves, through one of their addresses (its link,
    /// the preference center behind it, a keyword reply): stopping every channel that way stops
    /// every address of theirs.
    public var comesFromThePerson: Bool {
        arrivesThroughChannel || self == .preferenceCenter
    }
}

/// Whether an event stops or resumes contact.
public enum EventKind: String, Hashable, Sendable, Codable {
    case optOut = "opt_out"
    case optIn = "opt_in"
}
