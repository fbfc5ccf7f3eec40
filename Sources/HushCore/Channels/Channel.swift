/// A way of reaching a person. `email` takes email addresses; `sms`, `whatsapp` and `voice`
/// take phone numbers.
public enum Channel: String, Hashable, Sendable, CaseIterable, Codable {
    case email, sms, whatsapp, voice

    /// The kind of address this channel sends to.
    public var addressKind: Address.Kind {
        self == .email ? .email : .phone
    }

    public init(parsing input: String, field: String = "channel") throws(HushError) {
        guard let channel = Channel(rawValue: input) else {
            throw .invalid(field, "\"\(input)\" is not a channel; use one of email, sms, whatsapp, voice")
        }
        self = channel
    }

    /// Throws unless this channel sends to addresses of the address's kind: a check of an email
    /// address on `sms` is a mistake of the caller, not an "allowed".
    public func requireSendable(to address: Address, field: String = "address") throws(HushError) {
        guard address.kind == addressKind else {
            throw .invalid(field, refusal(of: address.kind, named: "\"\(address.input)\""))
        }
    }

    /// Why this channel does not reach an address of `kind`, naming it as `named` (a stored
    /// report says "this", so that only its normalized `input` holds the address).
    public func refusal(of kind: Address.Kind, named: String) -> String {
        "\(rawValue) sends to \(addressKind == .email ? "email addresses" : "phone numbers"), but \(named) is \(kind == .email ? "an email address" : "a phone number")"
    }
}

/// The channels an opt-out covers: one channel, or `all` of them.
public enum ChannelSelection: Hashable, Sendable, CustomStringConvertible {
    case only(Channel)
    case all

    public init(parsing input: String, field: String = "channel") throws(HushError) {
        if input == "all" {
            self = .all
            return
        }
        guard let channel = Channel(rawValue: input) else {
            throw .invalid(field, "\"\(input)\" is not a channel; use one of email, sms, whatsapp, voice, all")
        }
        self = .only(channel)
    }

    public func covers(_ channel: Channel) -> Bool {
        switch self {
        case .all: true
        case .only(let own): own == channel
        }
    }

    /// Whether an opt-out on these channels can apply to an address of this kind.
    public func accepts(_ kind: Address.Kind) -> Bool {
        switch self {
        case .all: true
        case .only(let channel): channel.addressKind == kind
        }
    }

    public var rawValue: String {
        switch self {
        case .all: "all"
        case .only(let channel): channel.rawValue
        }
    }

    public init?(rawValue: String) {
        guard let parsed = try? ChannelSelection(parsing: rawValue) else { return nil }
        self = parsed
    }

    public var description: String { rawValue }
}
