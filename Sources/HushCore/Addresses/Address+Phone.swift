extension Address {
    /// The most digits E.164 allows, country code included. (There is no minimum beyond what
    /// each plan's possible lengths say: Niue's `+683 7012` has seven.)
    static let e164MaximumDigits = 15
    /// More digits than any number plus the longest international prefix can have.
    private static let digitCapacity = 24
    /// libphonenumber's shortest national significant number.
    private static let shortestNationalNumber = 2

    /// Turns a phone number into E.164 the way libphonenumber parses it (metadata
    /// ``PhoneMetadata/version``): `+` or the region's international prefix (carrier codes
    /// included) then a calling code, or a national number in `region`; then the plan's national
    /// prefix is stripped or transformed, and the national number must have a length the plan
    /// calls possible (or fit a number type valid at that length). Anything else is refused with
    /// the reason, never guessed.
    static func normalizedPhone(_ input: String, region: Region?) throws(HushError) -> String {
        let (digits, hasPlus) = try readDigits(of: input)
        let tables = PhoneMetadata.tables
        var callingCode: Int
        var national: ArraySlice<UInt8>
        if hasPlus {
            (callingCode, national) = try splitCallingCode(digits[...], tables: tables, input: input)
        } else {
            guard let region else {
                throw invalid(
                    "a national number needs a region; set default_region or write it with + and the country code")
            }
            let plan = region.plan
            if let rest = strippingInternationalPrefix(digits, plan: plan) {
                (callingCode, national) = try splitCallingCode(rest, tables: tables, input: input)
            } else if let stripped = strippingOwnCallingCode(digits, plan: plan) {
                (callingCode, national) = (plan.countryCode, stripped)
            } else {
                callingCode = plan.countryCode
                national = try keptOrStripped(
                    plan.strippingNationalPrefix(digits[...]), given: digits[...], plan: plan, input: input)
                return try e164(callingCode, national, tables: tables, input: input)
            }
        }
        guard let plan = tables.plan(forCallingCode: callingCode) else {
            throw invalid("\"\(trimmed(input))\" does not start with a country calling code")
        }
        national = try keptOrStripped(plan.strippingNationalPrefix(national), given: national, plan: plan, input: input)
        return try e164(callingCode, national, tables: tables, input: input)
    }

    /// The national number after its prefix was stripped, if that leaves a length the plan can
    /// use. libphonenumber then keeps the prefix as part of the number (`020 7946 09` in the
    /// United Kingdom becomes `+44020794609`); Hush refuses that unless the whole fits the plan,
    /// because it is a mistyped number rather than a reading of one.
    private static func keptOrStripped(
        _ stripped: ArraySlice<UInt8>, given: ArraySlice<UInt8>, plan: PhoneMetadata, input: String
    ) throws(HushError) -> ArraySlice<UInt8> {
        switch plan.check(length: stripped.count) {
        case .possible, .tooLong:
            return stripped
        case let check where stripped.count != given.count && !plan.fits(given):
            throw lengthProblem(check, national: stripped, plan: plan, input: input)
        default:
            return given
        }
    }

    /// `+`, the calling code and the national number, once the calling code's main plan calls
    /// the national number's length possible.
    private static func e164(
        _ callingCode: Int, _ national: ArraySlice<UInt8>, tables: PhoneMetadata.Tables, input: String
    ) throws(HushError) -> String {
        guard national.count >= shortestNationalNumber else {
            throw invalid("\"\(trimmed(input))\" is too short to be a phone number")
        }
        guard let plan = tables.plan(forCallingCode: callingCode) else {
            throw invalid("\"\(trimmed(input))\" does not start with a country calling code")
        }
        let check = plan.check(length: national.count)
        if check != .possible, !fitsTypedLength(national, types: tables.typed[callingCode]) {
            throw lengthProblem(check, national: national, plan: plan, input: input)
        }
        guard startsLikeAnyPlan(national, plans: tables.plansByCallingCode[callingCode]) else {
            throw invalid(
                "\"\(trimmed(input))\" is not a possible +\(callingCode) number: no national number under "
                    + "+\(callingCode) starts with \(String(decoding: national.prefix(1), as: UTF8.self))")
        }
        let codeDigits = callingCode < 10 ? 1 : callingCode < 100 ? 2 : 3
        guard codeDigits + national.count <= e164MaximumDigits else {
            throw invalid("\"\(trimmed(input))\" is not an E.164 number: it has more than \(e164MaximumDigits) digits")
        }
        // One allocation: `+`, the calling code's digits, the national number.
        return String(unsafeUninitializedCapacity: 1 + codeDigits + national.count) { output in
            output[0] = UInt8(ascii: "+")
            var code = callingCode
            for offset in stride(from: codeDigits, to: 0, by: -1) {
                output[offset] = UInt8(ascii: "0") + UInt8(code % 10)
                code /= 10
            }
            for (offset, digit) in national.enumerated() { output[1 + codeDigits + offset] = digit }
            return 1 + codeDigits + national.count
        }
    }

    /// Whether a plan with this calling code has numbers starting with the national number's
    /// first digit. (Only the first digit: a whole-pattern test would refuse numbers in ranges
    /// allocated after the metadata was published, and an opt-out must not be lost to that.)
    private static func startsLikeAnyPlan(_ national: ArraySlice<UInt8>, plans: [PhoneMetadata]) -> Bool {
        guard let first = national.first else { return false }
        return plans.contains { $0.nationalNumber?.canStart(with: first) ?? true }
    }

    /// Whether a number type valid at this length (Canada's 310-xxxx, say) takes the number.
    private static func fitsTypedLength(
        _ national: ArraySlice<UInt8>, types: [(lengths: [Int], pattern: DigitPattern)]
    ) -> Bool {
        types.contains { $0.lengths.contains(national.count) && $0.pattern.matchesWhole(national) }
    }

    private static func lengthProblem(
        _ check: PhoneMetadata.LengthCheck, national: ArraySlice<UInt8>, plan: PhoneMetadata, input: String
    ) -> HushError {
        let place = "+\(plan.countryCode)"
        if check == .localOnly {
            return invalid("\"\(trimmed(input))\" is a local number under \(place): write it with its area code")
        }
        let lengths = plan.possibleLengths.map(String.init)
        let expected = lengths.count > 1
            ? lengths.dropLast().joined(separator: ", ") + " or " + lengths[lengths.count - 1]
            : lengths.first ?? "no"
        return invalid(
            "\"\(trimmed(input))\" is not a possible \(place) number: national numbers under \(place) have \(expected) "
                + "digits after the country code and national prefix, this one has \(national.count)")
    }

    /// The calling code at the start of `digits` (one to three digits, the first that is
    /// assigned) and the rest.
    private static func splitCallingCode(
        _ digits: ArraySlice<UInt8>, tables: PhoneMetadata.Tables, input: String
    ) throws(HushError) -> (Int, ArraySlice<UInt8>) {
        guard digits.count > shortestNationalNumber else {
            throw invalid("\"\(trimmed(input))\" is too short to be an international number")
        }
        if digits.first != UInt8(ascii: "0") {
            var code = 0
            for (length, digit) in digits.prefix(3).enumerated() {
                code = code * 10 + Int(digit - UInt8(ascii: "0"))
                if tables.plan(forCallingCode: code) != nil {
                    return (code, digits.dropFirst(length + 1))
                }
            }
        }
        throw invalid("\"\(trimmed(input))\" does not start with a country calling code")
    }

    /// The digits after the plan's international prefix, unless a 0 follows it (calling codes
    /// never start with 0) or there is none.
    private static func strippingInternationalPrefix(_ digits: [UInt8], plan: PhoneMetadata) -> ArraySlice<UInt8>? {
        guard let prefix = plan.internationalPrefix, let match = prefix.prefixMatch(digits[...]) else { return nil }
        let rest = digits[match.end...]
        return rest.first == UInt8(ascii: "0") ? nil : rest
    }

    /// A national number that starts with its own region's calling code (`44 20 …` in the United
    /// Kingdom): the rest, if it fits the plan where the whole did not, or the whole is too long.
    private static func strippingOwnCallingCode(_ digits: [UInt8], plan: PhoneMetadata) -> ArraySlice<UInt8>? {
        guard digits.starts(with: plan.callingCode) else { return nil }
        let rest = plan.strippingNationalPrefix(digits.dropFirst(plan.callingCode.count))
        let better = !plan.fits(digits[...]) && plan.fits(rest)
        return better || plan.check(length: digits.count) == .tooLong ? rest : nil
    }
}

extension Address {
    /// Visual separators libphonenumber ignores: dashes of every width, slashes, dots, brackets,
    /// soft hyphens and zero-width spaces. (Not `~`: before trailing digits libphonenumber reads
    /// it as an extension marker, so Hush refuses it as one.)
    private static func isSeparator(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "-", ".", "/", "(", ")", "[", "]",
            "\u{00AD}", "\u{200B}", "\u{2060}", "\u{2010}"..."\u{2015}", "\u{2212}", "\u{2053}", "\u{223C}",
            "\u{30FC}", "\u{FF08}", "\u{FF09}", "\u{FF0D}", "\u{FF0F}", "\u{FF3B}", "\u{FF3D}":
            true
        default:
            scalar.properties.isWhitespace
        }
    }

    /// The number of a phone text that carries an extension (`(415) 555-0100 x23` gives
    /// `(415) 555-0100 `), nil when it has none. For doors that read numbers people typed into
    /// records (CRM fields), where a "Do Not Call" on the record is the number's: the API refuses
    /// an extension instead, so its caller sends the number alone.
    public static func numberBeforeExtension(_ text: String) -> String? {
        let scalars = text.unicodeScalars
        var sawDigit = false
        for index in scalars.indices {
            let scalar = scalars[index]
            if decimalValue(scalar) != nil {
                sawDigit = true
            } else if scalar != "+", scalar != "\u{FF0B}", !isSeparator(scalar) {
                guard sawDigit, extensionText(String(scalars[index...])) != nil else { return nil }
                return String(String.UnicodeScalarView(scalars[..<index]))
            }
        }
        return nil
    }

    /// The digits of `input` as ASCII (full-width and other decimal digits read as their value)
    /// and whether it began with `+`. A `tel:` URI reads as its number; extensions and anything
    /// that is neither a digit nor a separator are refused.
    private static func readDigits(of input: String) throws(HushError) -> ([UInt8], hasPlus: Bool) {
        var bytes = input
        if let plain = bytes.withUTF8(plainDigits) { return plain }
        var text = Substring(trimmed(input))
        if text.prefix(4).lowercased() == "tel:" {
            text = text.dropFirst(4)
            if let semicolon = text.firstIndex(of: ";") {
                try refuseParameters(text[text.index(after: semicolon)...], input: input)
                text = text[..<semicolon]
            }
        }
        var digits: [UInt8] = []
        digits.reserveCapacity(16)
        var hasPlus = false
        let scalars = text.unicodeScalars
        for index in scalars.indices {
            let scalar = scalars[index]
            if let value = decimalValue(scalar) {
                guard digits.count < digitCapacity else {
                    throw invalid("\"\(trimmed(input))\" is not an E.164 number: it has too many digits")
                }
                digits.append(UInt8(ascii: "0") + value)
            } else if scalar == "+" || scalar == "\u{FF0B}" {
                guard digits.isEmpty, !hasPlus else {
                    throw invalid("\"+\" can only come once, before the country code, in \"\(trimmed(input))\"")
                }
                hasPlus = true
            } else if !isSeparator(scalar) {
                if !digits.isEmpty, let extensionText = extensionText(String(scalars[index...])) {
                    throw invalid(
                        "\"\(trimmed(input))\" has an extension (\(extensionText)); an address is the number alone, "
                            + "so send it without the extension")
                }
                throw invalid("\"\(trimmed(input))\" is not a phone number: it contains \(scalar.nameForMessage)")
            }
        }
        guard !digits.isEmpty else {
            if text.isEmpty { throw invalid("the address is empty") }
            throw invalid("\"\(trimmed(input))\" is not a phone number: it has no digits")
        }
        return (digits, hasPlus)
    }

    /// The common case read byte by byte: ASCII digits, a leading `+`, spaces, dashes, dots,
    /// slashes and brackets only. Anything else (`nil`) goes the general way, which reads it or
    /// says what is wrong.
    private static func plainDigits(_ bytes: UnsafeBufferPointer<UInt8>) -> ([UInt8], hasPlus: Bool)? {
        var digits: [UInt8] = []
        digits.reserveCapacity(16)
        var hasPlus = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard digits.count < digitCapacity else { return nil }
                digits.append(byte)
            case UInt8(ascii: "+"):
                guard digits.isEmpty, !hasPlus else { return nil }
                hasPlus = true
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: "("),
                UInt8(ascii: ")"):
                continue
            default:
                return nil
            }
        }
        return digits.isEmpty ? nil : (digits, hasPlus)
    }

    /// Refuses a `tel:` URI's parameters: an extension is not part of the address, and a
    /// `phone-context` makes the number local to somewhere Hush would have to guess.
    private static func refuseParameters(_ parameters: Substring, input: String) throws(HushError) {
        for parameter in parameters.split(separator: ";") {
            let name = parameter.prefix(while: { $0 != "=" }).lowercased()
            if name == "ext" {
                throw invalid(
                    "\"\(trimmed(input))\" has an extension (\(parameter)); an address is the number alone, "
                        + "so send it without the extension")
            }
            throw invalid(
                "\"\(trimmed(input))\" has the tel: parameter \"\(name)\", which Hush does not read; "
                    + "send the number with + and its country code alone")
        }
    }

    /// The extension in `tail` (`ext. 12`, `x12`, `#12`, `, 12`), or `nil` if `tail` is not one.
    private static func extensionText(_ tail: String) -> String? {
        let markers = ["extension", "extn", "ext", "xtn", "x", "#", ",", "~", "\u{FF5E}", "anexo", "доб"]
        let lowered = tail.lowercased()
        guard let marker = markers.first(where: { lowered.hasPrefix($0) }) else { return nil }
        var rest = lowered.dropFirst(marker.count).drop(while: { $0 == "." || $0 == ":" || $0 == "=" || $0 == " " })
        if rest.last == "#" { rest = rest.dropLast() }
        guard !rest.isEmpty, rest.unicodeScalars.allSatisfy({ decimalValue($0) != nil }) else { return nil }
        return trimmed(tail)
    }

    /// The value of a decimal digit in any script (`７`, `٣`), or `nil`. Digits of scripts newer
    /// than the Unicode version the reference libraries know are not read (``Unicode/Scalar/isKnownToReferences``).
    private static func decimalValue(_ scalar: Unicode.Scalar) -> UInt8? {
        if ("0"..."9").contains(scalar) { return UInt8(scalar.value - 0x30) }
        guard scalar.value > 0x7F, scalar.isKnownToReferences, scalar.properties.numericType == .decimal,
              let value = scalar.properties.numericValue
        else { return nil }
        return UInt8(value)
    }

    /// The input without surrounding whitespace, for quoting in a message.
    static func trimmed(_ input: String) -> String {
        let scalars = input.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
