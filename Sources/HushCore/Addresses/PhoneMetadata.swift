/// One numbering plan from libphonenumber's metadata: what a region (or a non-geographic
/// calling code such as +800) dials abroad with, what it dials before national numbers and how
/// to strip it, and how long its numbers are. The tables are generated
/// (`PhoneMetadata+Generated.swift`, from `scripts/generate-phone-metadata.py`) and compiled once,
/// on first use.
public final class PhoneMetadata: Sendable {
    /// A plan as the generated table writes it.
    struct Source {
        let id: String
        let countryCode: Int
        let internationalPrefix: String?
        let nationalPrefixForParsing: String?
        let nationalPrefixTransformRule: String?
        let nationalNumber: String?
        let possibleLengths: [Int]
        let localOnlyLengths: [Int]
    }

    /// A number type valid at lengths its calling code's main plan does not call possible.
    struct TypedSource {
        let countryCode: Int
        let lengths: [Int]
        let nationalNumber: String
    }

    /// What libphonenumber's length test says of a national significant number.
    enum LengthCheck: Equatable {
        case possible, localOnly, tooShort, tooLong, invalidLength
    }

    /// The region code (`GB`), or `001` for a non-geographic calling code.
    let id: String
    let countryCode: Int
    /// The calling code as ASCII digits.
    let callingCode: [UInt8]
    let internationalPrefix: DigitPattern?
    let nationalPrefixForParsing: DigitPattern?
    /// The transform rule split into literal digits and group references.
    let transformRule: [TransformPart]?
    let nationalNumber: DigitPattern?
    let possibleLengths: [Int]
    let localOnlyLengths: [Int]

    enum TransformPart: Sendable {
        case digits([UInt8])
        case group(Int)
    }

    init(_ source: Source) {
        id = source.id
        countryCode = source.countryCode
        callingCode = Array(String(source.countryCode).utf8)
        internationalPrefix = source.internationalPrefix.map(DigitPattern.init)
        nationalPrefixForParsing = source.nationalPrefixForParsing.map(DigitPattern.init)
        transformRule = source.nationalPrefixTransformRule.map(Self.parts)
        nationalNumber = source.nationalNumber.map(DigitPattern.init)
        possibleLengths = source.possibleLengths
        localOnlyLengths = source.localOnlyLengths
    }

    /// libphonenumber's `_test_number_length` against the general description.
    func check(length: Int) -> LengthCheck {
        if localOnlyLengths.contains(length) { return .localOnly }
        guard let shortest = possibleLengths.first, let longest = possibleLengths.last else { return .invalidLength }
        if length < shortest { return .tooShort }
        if length > longest { return .tooLong }
        return possibleLengths.contains(length) ? .possible : .invalidLength
    }

    /// Whether `digits` fit the plan's general national number pattern.
    func fits(_ digits: ArraySlice<UInt8>) -> Bool {
        nationalNumber?.matchesWhole(digits) ?? false
    }

    /// libphonenumber's `_maybe_strip_national_prefix_carrier_code`: the number without its
    /// national prefix (and carrier code), transformed where the plan says so, unless stripping
    /// would turn a number that fits the plan into one that does not.
    func strippingNationalPrefix(_ digits: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard !digits.isEmpty, let prefix = nationalPrefixForParsing, let match = prefix.prefixMatch(digits) else {
            return digits
        }
        let fitsAsGiven = fits(digits)
        let stripped: ArraySlice<UInt8>
        if let transformRule, prefix.groupCount > 0, match.group(prefix.groupCount) != nil {
            stripped = (Self.expand(transformRule, match, in: Array(digits)) + digits.dropFirst(match.end))[...]
        } else {
            stripped = digits.dropFirst(match.end)
        }
        return fitsAsGiven && !fits(stripped) ? digits : stripped
    }

    /// The transform rule with the match's groups (offsets from the start of `digits`) put in.
    private static func expand(_ rule: [TransformPart], _ match: DigitPattern.Match, in digits: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        for part in rule {
            switch part {
            case .digits(let literal): output += literal
            case .group(let index): if let range = match.group(index) { output += digits[range] }
            }
        }
        return output
    }

    /// `268\1` → digits `268`, then group 1.
    private static func parts(_ rule: String) -> [TransformPart] {
        var parts: [TransformPart] = []
        var bytes = Array(rule.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "\\"), let group = bytes.popFirst() {
                parts.append(.group(Int(group - UInt8(ascii: "0"))))
            } else if case .digits(let literal)? = parts.last {
                parts[parts.count - 1] = .digits(literal + [byte])
            } else {
                parts.append(.digits([byte]))
            }
        }
        return parts
    }
}

extension PhoneMetadata {
    /// The compiled tables, built on first use.
    struct Tables: Sendable {
        /// Every region's plan by its uppercase code.
        let regions: [String: PhoneMetadata]
        /// The plan that reads numbers written with each calling code (0–999, the index): its
        /// main region's, or the non-geographic plan. Arrays, not dictionaries: every phone
        /// number looks here a few times.
        let byCallingCode: [PhoneMetadata?]
        /// Every plan with each calling code, the main one first.
        let plansByCallingCode: [[PhoneMetadata]]
        /// Patterns of number types valid at lengths the main plan does not call possible.
        let typed: [[(lengths: [Int], pattern: DigitPattern)]]

        func plan(forCallingCode code: Int) -> PhoneMetadata? {
            byCallingCode.indices.contains(code) ? byCallingCode[code] : nil
        }
    }

    static let tables: Tables = {
        var regions: [String: PhoneMetadata] = [:]
        var nonGeographic: [Int: PhoneMetadata] = [:]
        for source in sources {
            let plan = PhoneMetadata(source)
            if source.id == "001" {
                nonGeographic[source.countryCode] = plan
            } else {
                regions[source.id] = plan
            }
        }
        var plansByCallingCode = [[PhoneMetadata]](repeating: [], count: 1000)
        for (code, members) in regionsByCallingCode {
            plansByCallingCode[code] = members.compactMap { $0 == "001" ? nonGeographic[code] : regions[$0] }
        }
        let byCallingCode = plansByCallingCode.map(\.first)
        var typed = [[(lengths: [Int], pattern: DigitPattern)]](repeating: [], count: 1000)
        for source in typedSources {
            typed[source.countryCode].append((source.lengths, DigitPattern(source.nationalNumber)))
        }
        return Tables(
            regions: regions, byCallingCode: byCallingCode, plansByCallingCode: plansByCallingCode, typed: typed)
    }()
}
