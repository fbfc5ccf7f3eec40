/// A region whose national phone numbers Hush can turn into E.164, named by its uppercase
/// ISO 3166 alpha-2 code: every region libphonenumber's metadata has (``PhoneMetadata/version``).
/// Numbers written with `+` never need a region; national ones do.
public struct Region: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
    /// The uppercase code, such as `GB`.
    public let rawValue: String
    /// The region's numbering plan.
    let plan: PhoneMetadata

    /// The region with this exact uppercase code, or `nil`.
    public init?(rawValue: String) {
        guard let plan = PhoneMetadata.tables.regions[rawValue] else { return nil }
        self.rawValue = rawValue
        self.plan = plan
    }

    /// The region with this code in any case (`gb`, `GB`), or `nil`.
    public init?(code: String) {
        self.init(rawValue: code.uppercased())
    }

    /// The country calling code as digits, such as `44` for the United Kingdom.
    public var callingCode: String { String(plan.countryCode) }

    public static func == (lhs: Region, rhs: Region) -> Bool {
        lhs.rawValue == rhs.rawValue
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rawValue)
    }

    public var description: String { rawValue }

    /// Every region Hush can read national numbers for, by code.
    public static let supported: [Region] = PhoneMetadata.tables.regions.keys.sorted().compactMap { Region(rawValue: $0) }

    /// Regions the tests and examples name often.
    public static let us = Region(rawValue: "US")!
    public static let ca = Region(rawValue: "CA")!
    public static let gb = Region(rawValue: "GB")!
    public static let de = Region(rawValue: "DE")!
    public static let fr = Region(rawValue: "FR")!
    public static let `in` = Region(rawValue: "IN")!
    public static let au = Region(rawValue: "AU")!
    public static let br = Region(rawValue: "BR")!
    public static let mx = Region(rawValue: "MX")!
    public static let es = Region(rawValue: "ES")!
    public static let it = Region(rawValue: "IT")!
    public static let nl = Region(rawValue: "NL")!
    public static let za = Region(rawValue: "ZA")!
}
