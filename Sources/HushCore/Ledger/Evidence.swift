/// What backs a change: the raw message text, the IP and user agent of a click, a consent
/// reference. Free JSON, stored beside the ledger and removed when a person is erased.
public struct Evidence: Hashable, Sendable, Codable {
    public static let maximumEncodedSize = 16 * 1024

    public var fields: [String: JSONValue]

    public init(_ fields: [String: JSONValue] = [:]) {
        self.fields = fields
    }

    public var isEmpty: Bool { fields.isEmpty }

    public init(from decoder: any Decoder) throws {
        fields = try decoder.singleValueContainer().decode([String: JSONValue].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(fields)
    }
}

/// Proof that a person agreed to be contacted again: what kind of proof and where it is kept.
public struct Consent: Hashable, Sendable {
    public static let maximumLength = 300

    public let kind: String
    public let reference: String
    public let note: String?

    /// - Throws: `evidence_required` when the kind or the reference is blank.
    public init(kind: String, reference: String, note: String? = nil) throws(HushError) {
        let kind = kind.trimmed
        let reference = reference.trimmed
        guard !kind.isEmpty else {
            throw HushError(.evidenceRequired, field: "evidence.kind", "an opt-in needs the kind of consent, such as written_consent or start_keyword")
        }
        guard !reference.isEmpty else {
            throw HushError(.evidenceRequired, field: "evidence.reference", "an opt-in needs a reference to the recorded consent")
        }
        for (field, value) in [("evidence.kind", kind), ("evidence.reference", reference), ("evidence.note", note ?? "")]
        where value.count > Self.maximumLength {
            throw .invalid(field, "is longer than \(Self.maximumLength) characters")
        }
        self.kind = kind
        self.reference = reference
        self.note = note
    }

    public var evidence: Evidence {
        var fields: [String: JSONValue] = ["kind": .string(kind), "reference": .string(reference)]
        if let note { fields["note"] = .string(note) }
        return Evidence(fields)
    }
}

extension String {
    /// Without leading and trailing whitespace (Swift's own, without bridging to NSString).
    public var trimmed: String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view = view.dropFirst() }
        while let last = view.last, last.isWhitespace { view = view.dropLast() }
        return String(view)
    }
}
