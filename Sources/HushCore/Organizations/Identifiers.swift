/// Database identities. They are plain numbers, typed so that a list id never passes for an
/// organization id.
public struct OrganizationID: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public var description: String { "\(rawValue)" }
}

public struct ListID: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public var description: String { "\(rawValue)" }
}
