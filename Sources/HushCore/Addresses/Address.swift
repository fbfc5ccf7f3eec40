/// An email address or phone number in the one form Hush keys everything on. Parsing
/// validates and normalizes, so every `Address` that exists is already normalized:
/// `try Address(parsing: " Ann@München.DE ")` is `ann@xn--mnchen-3ya.de`.
public struct Address: Hashable, Sendable, CustomStringConvertible {
    /// Whether an address reaches someone by email or by phone (SMS and calls).
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        case email
        case phone
    }

    public let kind: Kind
    /// The normalized key: a lowercased email with punycode domain, or an E.164 number.
    public let normalized: String
    /// The input exactly as given, for display.
    public var input: String { given ?? normalized }
    /// The input when its bytes differ from `normalized`'s: most addresses arrive normalized, and
    /// one string then serves both, so copying an address retains one object rather than two.
    /// Bytes, not `==`: a decomposed accent equals its composed form as a `String`.
    let given: String?

    /// Parses an email address if `input` contains `@`, otherwise a phone number; `region`
    /// reads phone numbers written without `+` or an international prefix.
    public init(parsing input: String, region: Region? = nil) throws(HushError) {
        if input.utf8.contains(UInt8(ascii: "@")) {
            try self.init(email: input)
        } else {
            try self.init(phone: input, region: region)
        }
    }

    /// Parses an email address: trimmed, lowercased, its domain in ASCII (punycode).
    public init(email input: String) throws(HushError) {
        self.init(normalized: try Address.normalizedEmail(input), kind: .email, input: input)
    }

    /// Parses a phone number into E.164. Numbers written with `+`, `00` or `011` carry their
    /// country code; national numbers need the `region` they were written for.
    public init(phone input: String, region: Region? = nil) throws(HushError) {
        self.init(normalized: try Address.normalizedPhone(input, region: region), kind: .phone, input: input)
    }

    public static func == (lhs: Address, rhs: Address) -> Bool {
        lhs.kind == rhs.kind && lhs.normalized == rhs.normalized
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(normalized)
    }

    public var description: String { normalized }
}

extension Address {
    static func invalid(_ message: String) -> HushError {
        HushError.invalid("address", message)
    }
}
