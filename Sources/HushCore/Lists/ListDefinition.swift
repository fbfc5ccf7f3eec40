/// A named opt-out list: its name, what it tells people, the keywords that opt a sender out of
/// it and the channels it covers.
public struct ListDefinition: Hashable, Sendable {
    /// The default list's name, which never changes (`DirectoryRules.update`). Computed, so that a
    /// check naming the list it blocks on reads a constant rather than a global made on first use.
    @inlinable
    public static var defaultName: String { "default" }
    public static let maximumNameLength = 50
    public static let maximumDescriptionLength = 300
    public static let maximumKeywordLength = 50
    public static let maximumMessageLength = 300
    public static let maximumWebhookURLLength = 2048

    public var name: String
    public var description: String
    /// Upper-cased, unique; matched against inbound messages.
    public var keywords: [String]
    /// The confirmation sent back when someone opts out through a keyword.
    public var message: String?
    public var webhookURL: String?
    public var channels: Set<Channel>
    /// Whether the preference center offers it to the people on it; internal lists are not.
    public var isPublic: Bool

    public init(
        name: String, description: String = "", keywords: [String] = [], message: String? = nil,
        webhookURL: String? = nil, channels: Set<Channel> = Set(Channel.allCases), isPublic: Bool = true
    ) throws(HushError) {
        self.isPublic = isPublic
        self.name = try Self.validName(name)
        self.description = try Self.validText(description, field: "description", maximum: Self.maximumDescriptionLength, allowEmpty: true)
        self.keywords = try Self.validKeywords(keywords)
        self.message = try message.map { (text) throws(HushError) in
            try Self.validText(text, field: "message", maximum: Self.maximumMessageLength, allowEmpty: false)
        }
        self.webhookURL = try webhookURL.map { (url) throws(HushError) in try Self.validWebhookURL(url) }
        guard !channels.isEmpty else {
            throw .invalid("channels", "a list covers at least one channel")
        }
        self.channels = channels
    }

    static func validName(_ name: String) throws(HushError) -> String {
        let name = name.trimmed
        guard (1...maximumNameLength).contains(name.count) else {
            throw .invalid("name", "a list name has 1 to \(maximumNameLength) characters")
        }
        return name
    }

    static func validText(_ text: String, field: String, maximum: Int, allowEmpty: Bool) throws(HushError) -> String {
        let text = text.trimmed
        guard allowEmpty || !text.isEmpty else {
            throw .invalid(field, "must not be empty")
        }
        guard text.count <= maximum else {
            throw .invalid(field, "is \(text.count) characters long; at most \(maximum) are allowed")
        }
        return text
    }

    static func validKeywords(_ keywords: [String]) throws(HushError) -> [String] {
        var seen = Set<String>()
        var result: [String] = []
        for (offset, raw) in keywords.enumerated() {
            let keyword = raw.trimmed.uppercased()
            let field = "keywords[\(offset)]"
            guard (1...maximumKeywordLength).contains(keyword.count) else {
                throw .invalid(field, "a keyword has 1 to \(maximumKeywordLength) characters")
            }
            guard !keyword.contains(where: { $0.isNewline }) else {
                throw .invalid(field, "a keyword is a single line")
            }
            guard seen.insert(keyword).inserted else {
                throw .invalid(field, "\"\(keyword)\" is listed twice")
            }
            guard !KeywordSet.isReserved(keyword) else {
                throw .invalid(field, "\"\(keyword)\" is one of CTIA's words, which always act for the whole organization")
            }
            result.append(keyword)
        }
        return result
    }

    static func validWebhookURL(_ url: String) throws(HushError) -> String {
        let url = url.trimmed
        let lowered = url.lowercased()
        guard url.utf8.count <= maximumWebhookURLLength else {
            throw .invalid("webhook_url", "is longer than \(maximumWebhookURLLength) characters")
        }
        guard lowered.hasPrefix("https://") || lowered.hasPrefix("http://") else {
            throw .invalid("webhook_url", "must be an http:// or https:// URL")
        }
        let rest = url.drop(while: { $0 != ":" }).dropFirst(3)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let hostAndPort = authority.split(separator: "@", omittingEmptySubsequences: false).last ?? authority
        let host = hostAndPort.first == "["
            ? hostAndPort.dropFirst().prefix { $0 != "]" }
            : hostAndPort.prefix { $0 != ":" }
        guard !host.isEmpty, !url.contains(where: { $0.isWhitespace })
        else {
            throw .invalid("webhook_url", "\"\(url)\" has no host or contains spaces")
        }
        return url
    }
}

/// A stored list.
public struct OptOutList: Hashable, Sendable {
    public let id: ListID
    public let organization: OrganizationID
    public let definition: ListDefinition
    /// Whether this is the organization's built-in `default` list, which cannot be deleted.
    public let isDefault: Bool
    /// Names it had before: they stay reserved to it, and naming one still means this list.
    public var formerNames: [String] = []
    /// The webhook endpoint that delivers to `webhook_url`.
    public var webhook: WebhookID?
    /// The endpoint's signing secret, only in the answer to the change that created it.
    public var webhookSecret: WebhookSecret?

    public init(id: ListID, organization: OrganizationID, definition: ListDefinition, isDefault: Bool, webhook: WebhookID? = nil) {
        self.id = id
        self.organization = organization
        self.definition = definition
        self.isDefault = isDefault
        self.webhook = webhook
    }
}
