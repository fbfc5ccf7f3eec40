/// A tenant and its settings.
public struct Organization: Hashable, Sendable {
    public static let maximumNameLength = 64

    public let id: OrganizationID
    public let name: String
    public var settings: OrganizationSettings
    /// The organization's undeletable `default` list.
    public let defaultList: ListID

    public init(id: OrganizationID, name: String, settings: OrganizationSettings, defaultList: ListID) {
        self.id = id
        self.name = name
        self.settings = settings
        self.defaultList = defaultList
    }

    /// Checks a new organization's name: 1–64 characters of `[a-z0-9._-]`.
    public static func validateName(_ name: String) throws(HushError) {
        guard (1...maximumNameLength).contains(name.utf8.count) else {
            throw .invalid("name", "an organization name has 1 to \(maximumNameLength) characters")
        }
        guard (try? Scope(parsing: name)) != nil, !name.contains("/") else {
            throw .invalid("name", "\"\(name)\" may only contain a-z, 0-9, '.', '_' and '-'")
        }
    }
}

public struct OrganizationSettings: Hashable, Sendable {
    /// Off (the default): an opt-out that arrives through one channel (a link click, a STOP
    /// reply) stops every channel of the person. On: only that channel.
    public var granularOptOuts: Bool
    /// The region national phone numbers are read in; without one they are refused.
    public var defaultRegion: Region?

    public init(granularOptOuts: Bool = false, defaultRegion: Region? = nil) {
        self.granularOptOuts = granularOptOuts
        self.defaultRegion = defaultRegion
    }
}
