/// Database identities. They are plain numbers, typed so that a list id never passes for an
/// organization id, nor a delivery id for a webhook's.
public struct Identifier<Tag>: RawRepresentable, Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public let rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ rawValue: Int64) { self.rawValue = rawValue }

    /// An identity as a path or a query gives it; nil when it is not a number.
    public init?(_ text: some StringProtocol) {
        guard let value = Int64(text) else { return nil }
        self.rawValue = value
    }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "\(rawValue)" }
}

public typealias OrganizationID = Identifier<Organization>
public typealias ListID = Identifier<OptOutList>
public typealias WebhookID = Identifier<WebhookEndpoint>
public typealias DeliveryID = Identifier<WebhookDelivery>
public typealias SendID = Identifier<Send>
public typealias RulesetID = Identifier<Ruleset>
public typealias TriggerID = Identifier<Trigger>
public typealias ActivityID = Identifier<Activity>
/// An inbound message's.
public typealias MessageID = Identifier<InboundMessage>
