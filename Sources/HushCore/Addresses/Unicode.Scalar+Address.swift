extension Unicode.Scalar {
    /// Whether a non-ASCII character may appear in an address (RFC 6531 local parts, IDN
    /// labels): anything visible and assigned. Whitespace, controls, private-use and unassigned
    /// code points are refused, as are invisible format characters other than the zero-width
    /// (non-)joiners that Persian and Indic scripts need.
    var isVisibleInAddress: Bool {
        if properties.isWhitespace || !isKnownToReferences { return false }
        switch properties.generalCategory {
        case .control, .unassigned, .privateUse, .surrogate, .lineSeparator, .paragraphSeparator:
            return false
        case .format:
            return self == "\u{200C}" || self == "\u{200D}"
        default:
            return true
        }
    }

    /// Whether the character was assigned by Unicode 14.0, the version of the data the generated
    /// tables and the reference libraries (CPython 3.11's `unicodedata`) use. The standard
    /// library's data is newer; reading a newer character (a Kawi digit, a newly composed pair)
    /// would key an address differently from everyone using those references, so it is refused.
    var isKnownToReferences: Bool {
        guard let age = properties.age else { return false }
        return age.major < 14 || (age.major == 14 && age.minor == 0)
    }

    /// How an error message names this character: `"_"` when printable ASCII, `U+00A0` otherwise.
    var nameForMessage: String {
        if (0x21..<0x7F).contains(value) { return "\"\(self)\"" }
        let hex = String(value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
