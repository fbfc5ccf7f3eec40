/// A country whose national phone numbers Hush can turn into E.164, named by its uppercase
/// ISO 3166 alpha-2 code. Numbers written with `+` never need a region; national ones do.
public struct Region: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
    /// The uppercase ISO 3166 alpha-2 code, such as `GB`.
    public let rawValue: String
    /// The country calling code as digits, such as `44` for the United Kingdom.
    public let callingCode: String
    /// Prefixes dialled before a national number inside the country (`0` in the United
    /// Kingdom, `1` in North America); at most one is stripped before the calling code goes on.
    public let trunkPrefixes: [String]
    /// How many digits a national significant number has once the trunk prefix is gone.
    public let nationalNumberLengths: ClosedRange<Int>
    /// Prefixes dialled before a country code to call abroad from this country.
    let internationalPrefixes: [String]
    /// Whether a national significant number may begin with 0 (only Italy's landlines do).
    let nationalNumbersMayStartWithZero: Bool

    private init(
        _ code: String,
        callingCode: String,
        trunkPrefixes: [String],
        nationalNumberLengths: ClosedRange<Int>,
        internationalPrefixes: [String] = ["00"],
        nationalNumbersMayStartWithZero: Bool = false
    ) {
        self.rawValue = code
        self.callingCode = callingCode
        self.trunkPrefixes = trunkPrefixes
        self.nationalNumberLengths = nationalNumberLengths
        self.internationalPrefixes = internationalPrefixes
        self.nationalNumbersMayStartWithZero = nationalNumbersMayStartWithZero
    }

    /// The supported region with this exact uppercase code, or `nil`.
    public init?(rawValue: String) {
        guard let region = Region.supported.first(where: { $0.rawValue == rawValue }) else {
            return nil
        }
        self = region
    }

    /// The supported region with this code in any case (`gb`, `GB`), or `nil`.
    public init?(code: String) {
        self.init(rawValue: code.uppercased())
    }

    public static func == (lhs: Region, rhs: Region) -> Bool {
        lhs.rawValue == rhs.rawValue
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rawValue)
    }

    public var description: String { rawValue }

    /// United States: ten digits; a leading `1` is the trunk prefix.
    public static let us = Region(
        "US", callingCode: "1", trunkPrefixes: ["1"], nationalNumberLengths: 10...10,
        internationalPrefixes: ["011", "00"])
    /// Canada: ten digits; a leading `1` is the trunk prefix.
    public static let ca = Region(
        "CA", callingCode: "1", trunkPrefixes: ["1"], nationalNumberLengths: 10...10,
        internationalPrefixes: ["011", "00"])
    /// United Kingdom.
    public static let gb = Region(
        "GB", callingCode: "44", trunkPrefixes: ["0"], nationalNumberLengths: 9...10)
    /// Germany, whose numbers vary widely in length.
    public static let de = Region(
        "DE", callingCode: "49", trunkPrefixes: ["0"], nationalNumberLengths: 5...13)
    /// France.
    public static let fr = Region(
        "FR", callingCode: "33", trunkPrefixes: ["0"], nationalNumberLengths: 9...9)
    /// India.
    public static let `in` = Region(
        "IN", callingCode: "91", trunkPrefixes: ["0"], nationalNumberLengths: 10...10)
    /// Australia, which dials abroad with `0011`.
    public static let au = Region(
        "AU", callingCode: "61", trunkPrefixes: ["0"], nationalNumberLengths: 9...9,
        internationalPrefixes: ["0011", "00"])
    /// Brazil; carrier selection codes after the trunk `0` are not recognised.
    public static let br = Region(
        "BR", callingCode: "55", trunkPrefixes: ["0"], nationalNumberLengths: 10...11)
    /// Mexico, which has no trunk prefix since 2019; the legacy `01`, `044` and `045` are stripped.
    public static let mx = Region(
        "MX", callingCode: "52", trunkPrefixes: ["044", "045", "01"],
        nationalNumberLengths: 10...10)
    /// Spain, which has no trunk prefix.
    public static let es = Region(
        "ES", callingCode: "34", trunkPrefixes: [], nationalNumberLengths: 9...9)
    /// Italy, whose landlines keep their leading `0` in E.164 (`+39 06 …`).
    public static let it = Region(
        "IT", callingCode: "39", trunkPrefixes: [], nationalNumberLengths: 6...11,
        nationalNumbersMayStartWithZero: true)
    /// The Netherlands.
    public static let nl = Region(
        "NL", callingCode: "31", trunkPrefixes: ["0"], nationalNumberLengths: 9...9)
    /// South Africa.
    public static let za = Region(
        "ZA", callingCode: "27", trunkPrefixes: ["0"], nationalNumberLengths: 9...9)

    /// Every region Hush can parse national numbers for.
    public static let supported: [Region] = [
        .us, .ca, .gb, .de, .fr, .in, .au, .br, .mx, .es, .it, .nl, .za,
    ]
}
