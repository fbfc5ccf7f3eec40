import Foundation
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

    /// How the organization appears on its public pages (the preference center).
    public var branding: Branding

    public init(granularOptOuts: Bool = false, defaultRegion: Region? = nil, branding: Branding = Branding()) {
        self.granularOptOuts = granularOptOuts
        self.defaultRegion = defaultRegion
        self.branding = branding
    }
}

/// The name, logo and colour a person sees on the preference center.
public struct Branding: Hashable, Sendable {
    public static let maximumNameLength = 100
    public static let maximumLogoURLLength = 2048

    /// Shown as "who is writing"; the organization's name when nil.
    public var displayName: String?
    /// An https URL.
    public var logoURL: String?
    /// `#rrggbb`.
    public var color: String?

    public init(displayName: String? = nil, logoURL: String? = nil, color: String? = nil) {
        self.displayName = displayName
        self.logoURL = logoURL
        self.color = color
    }

    /// Checks each field, naming it in the error.
    public func validated() throws(HushError) -> Branding {
        if let displayName, !(1...Self.maximumNameLength).contains(displayName.trimmed.count) {
            throw .invalid("brand_name", "a brand name has 1 to \(Self.maximumNameLength) characters")
        }
        if let logoURL {
            guard logoURL.count <= Self.maximumLogoURLLength, logoURL.hasPrefix("https://"), URL(string: logoURL)?.host != nil else {
                throw .invalid("brand_logo_url", "the logo must be an https URL of at most \(Self.maximumLogoURLLength) characters")
            }
        }
        if let color {
            let digits = color.dropFirst()
            guard color.count == 7, color.first == "#", digits.allSatisfy({ $0.isASCII && $0.isHexDigit }) else {
                throw .invalid("brand_color", "the colour must be #rrggbb, such as #1a73e8")
            }
        }
        return Branding(displayName: displayName?.trimmed, logoURL: logoURL, color: color?.lowercased())
    }
}
