extension Address {
    /// The digit counts (country code included) Hush accepts for an E.164 number.
    static let e164DigitCounts = 8...15
    /// International prefixes recognised when no region is given: Australia's `0011`,
    /// North America's `011` and everyone else's `00`.
    private static let internationalPrefixesWithoutRegion = ["0011", "011", "00"]
    /// Room for 15 digits plus the longest international prefix, with some slack.
    private static let digitCapacity = 24

    /// Turns a phone number into E.164 (`+` and up to 15 digits). Spaces, dashes, dots,
    /// slashes and brackets are ignored. With `+`, `00` or `011` the number carries its own
    /// country code and only its shape is checked; otherwise `region` reads it as national.
    static func normalizedPhone(_ input: String, region: Region?) throws(HushError) -> String {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: digitCapacity) {
            (buffer) throws(HushError) -> String in
            let (count, hasPlus) = try collectDigits(of: input, into: buffer)
            let digits = UnsafeBufferPointer(rebasing: buffer[..<count])

            if hasPlus { return try e164(digits, input: input) }
            let prefixes = region?.internationalPrefixes ?? internationalPrefixesWithoutRegion
            if let prefix = prefixes.first(where: { digits.starts(with: $0.utf8) }) {
                return try e164(UnsafeBufferPointer(rebasing: digits[prefix.utf8.count...]), input: input)
            }
            guard let region else {
                throw invalid(
                    "a national number needs a region; set default_region or write it with + and the country code")
            }
            return try e164(national: digits, in: region, input: input)
        }
    }

    /// Copies the digits of `input` into `buffer`, checking every other character; a
    /// `(0)` after a `+` country code is dropped, except for Italy where the 0 is dialled.
    private static func collectDigits(
        of input: String, into buffer: UnsafeMutableBufferPointer<UInt8>
    ) throws(HushError) -> (count: Int, hasPlus: Bool) {
        var count = 0
        var hasPlus = false
        var bracketStart: Int?
        for scalar in input.unicodeScalars {
            switch scalar {
            case "0"..."9":
                guard count < buffer.count else { throw tooManyDigits(input) }
                buffer[count] = UInt8(truncatingIfNeeded: scalar.value)
                count += 1
            case "+":
                guard count == 0, !hasPlus else {
                    throw invalid("\"+\" can only come once, before the country code, in \"\(trimmed(input))\"")
                }
                hasPlus = true
            case "(", "[":
                bracketStart = count
            case ")", "]":
                if hasPlus, let start = bracketStart, start > 0, count == start + 1,
                    buffer[start] == UInt8(ascii: "0"),
                    !(start == 2 && buffer[0] == UInt8(ascii: "3") && buffer[1] == UInt8(ascii: "9"))
                {
                    count -= 1
                }
                bracketStart = nil
            case "-", ".", "/", "\u{2010}"..."\u{2015}", "\u{2212}":
                break
            default:
                guard scalar.properties.isWhitespace else {
                    throw invalid("\"\(trimmed(input))\" is not a phone number: it contains \(scalar.nameForMessage)")
                }
            }
        }
        guard count > 0 else {
            if input.unicodeScalars.allSatisfy(\.properties.isWhitespace) {
                throw invalid("the address is empty")
            }
            throw invalid("\"\(trimmed(input))\" is not a phone number: it has no digits")
        }
        return (count, hasPlus)
    }

    /// Checks that `digits` (after `+` or an international prefix) look like E.164.
    private static func e164(_ digits: UnsafeBufferPointer<UInt8>, input: String) throws(HushError) -> String {
        guard digits.first != UInt8(ascii: "0") else {
            throw invalid("\"\(trimmed(input))\" is not an E.164 number: country codes never start with 0")
        }
        guard e164DigitCounts.contains(digits.count) else {
            throw invalid(
                "\"\(trimmed(input))\" is not an E.164 number: it has \(digits.count) digits, and E.164 numbers "
                    + "have \(e164DigitCounts.lowerBound) to \(e164DigitCounts.upperBound) including the country code")
        }
        return plus(callingCode: "", digits)
    }

    /// Strips the region's trunk prefix from a national number and puts its calling code on.
    private static func e164(
        national digits: UnsafeBufferPointer<UInt8>, in region: Region, input: String
    ) throws(HushError) -> String {
        let trunk = region.trunkPrefixes.first(where: { digits.starts(with: $0.utf8) })
        let national = UnsafeBufferPointer(rebasing: digits[(trunk?.utf8.count ?? 0)...])
        let lengths = region.nationalNumberLengths
        guard lengths.contains(national.count) else {
            let expected = lengths.count == 1
                ? "\(lengths.lowerBound)"
                : "\(lengths.lowerBound) to \(lengths.upperBound)"
            let trunkNote = region.trunkPrefixes.isEmpty
                ? ""
                : " after the trunk prefix \(region.trunkPrefixes.joined(separator: " or "))"
            throw invalid(
                "\"\(trimmed(input))\" is not a \(region) number: national numbers there have \(expected) digits"
                    + trunkNote + ", this one has \(national.count)")
        }
        guard region.nationalNumbersMayStartWithZero || national.first != UInt8(ascii: "0") else {
            throw invalid("\"\(trimmed(input))\" is not a \(region) number: national numbers there never start with 0")
        }
        guard region.callingCode.utf8.count + national.count <= e164DigitCounts.upperBound else {
            throw tooManyDigits(input)
        }
        return plus(callingCode: region.callingCode, national)
    }

    /// `+`, the calling code and the digits, written into one new string.
    private static func plus(callingCode: String, _ digits: UnsafeBufferPointer<UInt8>) -> String {
        let length = 1 + callingCode.utf8.count + digits.count
        return String(unsafeUninitializedCapacity: length) { output in
            output[0] = UInt8(ascii: "+")
            var offset = 1
            for byte in callingCode.utf8 {
                output[offset] = byte
                offset += 1
            }
            for byte in digits {
                output[offset] = byte
                offset += 1
            }
            return offset
        }
    }

    private static func tooManyDigits(_ input: String) -> HushError {
        invalid("\"\(trimmed(input))\" is not an E.164 number: it has more than \(e164DigitCounts.upperBound) digits")
    }

    /// The input without surrounding whitespace, for quoting in a message.
    private static func trimmed(_ input: String) -> String {
        let scalars = input.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
