/// Internationalized domain names the way UTS 46 processes them and IDNA 2008 (RFC 5891–5893)
/// validates them, with the data of ``IDNATables``: what `idna.encode(domain, uts46=True)` does
/// in Python and browsers do in their address bars.
enum IDNA {
    /// The ASCII form of a domain: mapped (full-width letters to ASCII, `ﬁ` to `fi`, capitals
    /// to small letters, ignorable characters dropped), put in NFC, split into labels on `.`,
    /// and each label validated as a U-label (code point classes, contextual rules, hyphens,
    /// Bidi) before it becomes `xn--` Punycode. `xn--` labels as given are decoded and
    /// validated the same way. One trailing dot is dropped. The answer is lowercase ASCII.
    static func toASCII(domain: String) throws(HushError) -> String {
        var mapped = String.UnicodeScalarView()
        for scalar in domain.unicodeScalars {
            switch IDNATables.mapping[scalar] {
            case .valid: mapped.append(scalar)
            case .mapped(let replacement): mapped.append(contentsOf: replacement)
            case .ignored: continue
            case .disallowed: throw invalid("the domain cannot contain \(scalar.nameForMessage)")
            }
        }
        let normalized = String(mapped).canonicallyComposed
        var labels = normalized.unicodeScalars.split(omittingEmptySubsequences: false, whereSeparator: isDot)
        if labels.count > 1, labels[labels.count - 1].isEmpty { labels.removeLast() }
        var ascii: [String] = []
        for label in labels {
            guard !label.isEmpty else {
                throw invalid("the domain has an empty label (a leading dot or two dots in a row)")
            }
            let text = String(String.UnicodeScalarView(label))
            if label.allSatisfy(\.isASCII) {
                ascii.append(text)
                continue
            }
            // Punycode of n code points is at least n octets, so a longer label cannot fit in 63
            // with its `xn--`; refusing it here keeps the checks below linear in practice.
            guard label.count <= 59 else {
                throw invalid("the domain label \"\(text.prefix(20))…\" is longer than 63 octets once encoded")
            }
            try validate(uLabel: Array(label))
            let encoded = try "xn--" + Punycode.encode(label)
            guard encoded.utf8.count <= 63 else {
                throw invalid("the domain label \"\(text)\" is longer than 63 octets once encoded")
            }
            ascii.append(encoded)
        }
        return ascii.joined(separator: ".")
    }

    /// Decodes an `xn--` label (given without the prefix, lowercase) and validates what it
    /// encodes as a U-label, which must hold a non-ASCII character and encode back the same.
    static func validate(aLabel punycode: String) throws(HushError) {
        let decoded = try Punycode.decode(punycode)
        let scalars = Array(decoded.unicodeScalars)
        guard !punycode.hasSuffix("-"), scalars.contains(where: { !$0.isASCII }),
              try Punycode.encode(scalars) == punycode
        else { throw invalid("the domain label \"xn--\(punycode)\" is not a valid A-label") }
        try validate(uLabel: scalars)
    }

    /// IDNA 2008's checks of a U-label (RFC 5891 section 5.4), as `idna.check_label` runs them.
    static func validate(uLabel label: [Unicode.Scalar]) throws(HushError) {
        let text = String(String.UnicodeScalarView(label))
        guard text.canonicallyComposed.unicodeScalars.elementsEqual(label) else {
            throw invalid("the domain label \"\(text)\" is not in Unicode normalization form C")
        }
        if label.count >= 4, label[2] == "-", label[3] == "-" {
            throw invalid("the domain label \"\(text)\" has hyphens in its third and fourth places")
        }
        if label.first == "-" || label.last == "-" {
            throw invalid("the domain label \"\(text)\" starts or ends with a hyphen")
        }
        if let first = label.first, first.isMark {
            throw invalid("the domain label \"\(text)\" starts with a combining mark")
        }
        for (position, scalar) in label.enumerated() {
            if IDNATables.pvalid.contains(scalar) { continue }
            let allowed = IDNATables.contextJ.contains(scalar)
                ? joinerAllowed(at: position, in: label)
                : IDNATables.contextO.contains(scalar) && otherAllowed(at: position, in: label)
            guard allowed else {
                throw invalid("the domain label \"\(text)\" cannot contain \(scalar.nameForMessage) there")
            }
        }
        try checkBidi(label, text: text)
    }

    /// RFC 5892 appendix A.1 and A.2: a zero-width non-joiner after a virama or between joining
    /// letters, a zero-width joiner after a virama.
    private static func joinerAllowed(at position: Int, in label: [Unicode.Scalar]) -> Bool {
        if position > 0, label[position - 1].properties.canonicalCombiningClass.rawValue == 9 { return true }
        guard label[position] == "\u{200C}" else { return false }
        func joins(_ indices: some Sequence<Int>, _ kinds: Set<Substring>) -> Bool {
            for index in indices {
                let kind = IDNATables.joiningTypes[label[index]]
                if kind == "T" { continue }
                return kinds.contains(kind)
            }
            return false
        }
        return joins(stride(from: position - 1, through: 0, by: -1), ["L", "D"])
            && joins(position + 1..<label.count, ["R", "D"])
    }

    /// RFC 5892 appendix A.3–A.9: the middle dot between two `l`s, the Greek keraia before Greek,
    /// Hebrew geresh and gershayim after Hebrew, the katakana middle dot beside Japanese, and
    /// Arabic-Indic digits not mixed with extended ones.
    private static func otherAllowed(at position: Int, in label: [Unicode.Scalar]) -> Bool {
        let scalar = label[position]
        switch scalar.value {
        case 0x00B7:
            return position > 0 && position < label.count - 1 && label[position - 1] == "l" && label[position + 1] == "l"
        case 0x0375:
            return position < label.count - 1 && IDNATables.greek.contains(label[position + 1])
        case 0x05F3, 0x05F4:
            return position > 0 && IDNATables.hebrew.contains(label[position - 1])
        case 0x30FB:
            return label.contains { scalar in scalar != "\u{30FB}" && IDNATables.japanese.contains { $0.contains(scalar) } }
        case 0x0660...0x0669:
            return !label.contains { (0x06F0...0x06F9).contains($0.value) }
        case 0x06F0...0x06F9:
            return !label.contains { (0x0660...0x0669).contains($0.value) }
        default:
            return false
        }
    }

    /// The Bidi rule of RFC 5893 section 2, for labels holding right-to-left characters.
    private static func checkBidi(_ label: [Unicode.Scalar], text: String) throws(HushError) {
        let classes = label.map { IDNATables.bidiClasses[$0] }
        if let unknown = classes.firstIndex(of: "") {
            throw invalid("the domain label \"\(text)\" cannot contain \(label[unknown].nameForMessage)")
        }
        guard classes.contains(where: { $0 == "R" || $0 == "AL" || $0 == "AN" }) else { return }
        let problem = invalid("the domain label \"\(text)\" mixes directions in a way the Bidi rule forbids")
        let rightToLeft: Bool
        switch classes[0] {
        case "R", "AL": rightToLeft = true
        case "L": rightToLeft = false
        default: throw problem
        }
        let allowed: Set<Substring> = rightToLeft
            ? ["R", "AL", "AN", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"]
            : ["L", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"]
        let endings: Set<Substring> = rightToLeft ? ["R", "AL", "EN", "AN"] : ["L", "EN"]
        var validEnding = false
        var numbers: Substring?
        for kind in classes {
            guard allowed.contains(kind) else { throw problem }
            if endings.contains(kind) {
                validEnding = true
            } else if kind != "NSM" {
                validEnding = false
            }
            if rightToLeft, kind == "AN" || kind == "EN" {
                if let numbers, numbers != kind { throw problem }
                numbers = kind
            }
        }
        guard validEnding else { throw problem }
    }

    private static func isDot(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case ".", "\u{3002}", "\u{FF0E}", "\u{FF61}": true
        default: false
        }
    }

    private static func invalid(_ message: String) -> HushError {
        HushError.invalid("address", message)
    }
}

extension Unicode.Scalar {
    /// Whether this is a combining mark (general category M).
    var isMark: Bool {
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }
}
