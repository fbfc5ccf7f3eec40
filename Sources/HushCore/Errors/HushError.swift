/// Every failure Hush reports: a closed code, the field it concerns (when one does) and a
/// message that tells the caller what to do. The server maps codes to HTTP in one place.
public struct HushError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case invalidInput = "invalid_input"
            case notFound = "not_found"
            case conflict = "conflict"
            case evidenceRequired = "evidence_required"
            case forbidden = "forbidden"
            case storage = "storage"
            case limitExceeded = "limit_exceeded"
            case rateLimited = "rate_limited"
            case expired = "expired"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A value did not parse or broke a limit; `field` names it.
        public static let invalidInput = Code(.invalidInput)
        /// The named organization, list or contact does not exist (or is not yours).
        public static let notFound = Code(.notFound)
        /// The change contradicts current state (a duplicate keyword, deleting `default`).
        public static let conflict = Code(.conflict)
        /// An opt-in came without proof of consent.
        public static let evidenceRequired = Code(.evidenceRequired)
        /// The caller may not do this.
        public static let forbidden = Code(.forbidden)
        /// The database failed; nothing was applied.
        public static let storage = Code(.storage)
        /// The change would take something past a documented limit; `field` names what.
        public static let limitExceeded = Code(.limitExceeded)
        /// Too many requests for now; the caller tries again later.
        public static let rateLimited = Code(.rateLimited)
        /// What was asked for existed and no longer works (a link whose key was retired).
        public static let expired = Code(.expired)

        public var description: String { value.rawValue }
    }

    public let code: Code
    /// The input field the error is about, in the API's snake_case (`address`, `scope`, ...).
    public let field: String?
    public let message: String
    /// What failed underneath (the database's own words), for the log only: never shown to a
    /// client.
    public let underlying: String?

    public init(_ code: Code, field: String? = nil, _ message: String, underlying: String? = nil) {
        self.code = code
        self.field = field
        self.message = message
        self.underlying = underlying
    }

    public static func invalid(_ field: String, _ message: String) -> HushError {
        HushError(.invalidInput, field: field, message)
    }

    public var description: String {
        if let field { return "\(code) (\(field)): \(message)" }
        return "\(code): \(message)"
    }
}
