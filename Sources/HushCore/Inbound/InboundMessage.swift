import Foundation

/// What an organization's inbound messages are read with.
public struct InboundSettings: Hashable, Sendable {
    public static let defaultHelpText = "Reply STOP to unsubscribe. Msg & data rates may apply."
    public static let defaultOptOutReply = "You have been unsubscribed and will receive no more messages. Reply START to resubscribe."
    public static let defaultOptInReply = "You have been resubscribed. Reply STOP to unsubscribe."
    public static let maximumTextLength = 320

    public var keywords: KeywordSet
    public var helpText: String
    /// Never shown back through the API.
    public var twilioAuthToken: String?

    public init(keywords: KeywordSet = KeywordSet(), helpText: String = defaultHelpText, twilioAuthToken: String? = nil) {
        self.keywords = keywords
        self.helpText = helpText
        self.twilioAuthToken = twilioAuthToken
    }
}

/// A message a person sent, and what Hush made of it.
public struct InboundMessage: Hashable, Sendable {
    public enum Review: String, Hashable, Sendable {
        case pending
        case optOut = "opt_out"
        case ignore
    }

    public var id: MessageID
    public var channel: Channel
    /// The sender's number, E.164.
    public var sender: String
    public var recipient: String
    public var body: String
    public var providerMessageID: String?
    public var receivedAt: Date
    public var result: KeywordResult.Kind
    public var keyword: String?
    public var repliedAt: Date?
    public var review: Review?

    public init(
        id: MessageID = MessageID(0), channel: Channel, sender: String, recipient: String, body: String, providerMessageID: String?,
        receivedAt: Date, result: KeywordResult.Kind, keyword: String?, repliedAt: Date? = nil, review: Review? = nil
    ) {
        self.id = id
        self.channel = channel
        self.sender = sender
        self.recipient = recipient
        self.body = body
        self.providerMessageID = providerMessageID
        self.receivedAt = receivedAt
        self.result = result
        self.keyword = keyword
        self.repliedAt = repliedAt
        self.review = review
    }
}
