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

    /// Whether the person acted through a channel (clicked an email link, replied STOP to a
    /// text). Such opt-outs cover every channel unless the organization has granular opt-outs.
    public var arrivesThroughChannel: Bool {
        switch self {
        case .link, .oneClick, .keyword: true
        case .api, .preferenceCenter, .rep, .trigger, .crm, .import: false
        }
    }
}

/// Whether an event stops or resumes contact.
public enum EventKind: String, Hashable, Sendable, Codable {
    case optOut = "opt_out"
    case optIn = "opt_in"
}
