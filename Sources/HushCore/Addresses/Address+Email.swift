extension Address {
    /// The longest local part (before `@`) RFC 5321 allows, in octets.
    static let maximumLocalPartOctets = 64
    /// The longest domain, in octets of its ASCII form without a trailing dot (RFC 1035).
    static let maximumDomainOctets = 253
    /// The longest address, in octets (RFC 5321's path limit less its angle brackets).
    static let maximumAddressOctets = 254

    /// Trims, case-folds and validates an email address, writing its domain in ASCII through
    /// UTS 46 (``IDNA``) and its local part in NFC with full Unicode case folding, so every
    /// spelling of one mailbox (`ΝΙΚΟΣ@`, `νικος@`; `ann@ｅｘａｍｐｌｅ.com`) has one key.
    /// All-ASCII input (nearly all of it) is checked byte by byte without building strings.
    /// All-ASCII input (nearly all of it) is checked byte by byte without building strings.
    static func normalizedEmail(_ input: String) throws(HushError) -> String {
        var input = input
        let asciiResult: Result<String, HushError>? = input.withUTF8 { bytes in
            guard !bytes.contains(where: { $0 >= 0x80 }) else { return nil }
            return Result { () throws(HushError) in try normalizedASCIIEmail(bytes) }
        }
        if let asciiResult { return try asciiResult.get() }
        return try normalizedUnicodeEmail(input)
    }

    private static func normalizedASCIIEmail(_ bytes: UnsafeBufferPointer<UInt8>) throws(HushError) -> String {
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, isASCIIWhitespace(bytes[start]) { start += 1 }
        while end > start, isASCIIWhitespace(bytes[end - 1]) { end -= 1 }
        guard start < end else { throw invalid("the address is empty") }

        let at = try separatorIndex(in: bytes[start..<end].lazy.map(Unicode.Scalar.init))
        let local = bytes[start..<at]
        try validateLocalPart(local.lazy.map(Unicode.Scalar.init), octets: local.count)
        if bytes[end - 1] == UInt8(ascii: "."), end - 1 > at + 1 { end -= 1 }
        try validateDomain(bytes[(at + 1)..<end])
        guard end - start <= maximumAddressOctets else { throw tooLong(end - start) }

        return String(unsafeUninitializedCapacity: end - start) { output in
            for offset in 0..<(end - start) {
                output[offset] = lowercasedASCII(bytes[start + offset])
            }
            return end - start
        }
    }

    private static func normalizedUnicodeEmail(_ input: String) throws(HushError) -> String {
        // Mapping can only drop ignorable characters; an input this long is never a valid address,
        // and refusing it first keeps the Unicode work bounded.
        guard input.utf8.count <= 4 * maximumAddressOctets else { throw tooLong(input.utf8.count) }
        let scalars = input.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { throw invalid("the address is empty") }
        let trimmed = scalars[first...last]

        let at = try separatorIndex(in: trimmed)
        let local = caseFolded(String(String.UnicodeScalarView(trimmed[..<at])))
        try validateLocalPart(local.unicodeScalars, octets: local.utf8.count)

        let domain = String(String.UnicodeScalarView(trimmed[trimmed.index(after: at)...]))
        guard !domain.isEmpty else { throw invalid("the domain after \"@\" is empty") }
        let asciiDomain = try IDNA.toASCII(domain: domain)
        try validateDomain(asciiDomain.utf8)
        let address = local + "@" + asciiDomain
        guard address.utf8.count <= maximumAddressOctets else { throw tooLong(address.utf8.count) }
        return address
    }

    /// Full Unicode case folding (CaseFolding.txt C and F: `ß` → `ss`, `ς` → `σ`, `ﬁ` → `fi`)
    /// between two canonical compositions.
    private static func caseFolded(_ text: String) -> String {
        var folded = String.UnicodeScalarView()
        for scalar in text.canonicallyComposed.unicodeScalars {
            if let replacement = IDNATables.folding[scalar.value] {
                folded.append(contentsOf: replacement)
            } else {
                folded.append(scalar)
            }
        }
        return String(folded).canonicallyComposed
    }

    private static func tooLong(_ octets: Int) -> HushError {
        invalid("the address is \(octets) octets long; the longest an address can be is \(maximumAddressOctets)")
    }

    /// The position of the one `@`, rejecting quoted local parts and any second `@`.
    private static func separatorIndex<C: Collection<Unicode.Scalar>>(in scalars: C) throws(HushError) -> C.Index {
        var at: C.Index?
        var index = scalars.startIndex
        while index < scalars.endIndex {
            switch scalars[index] {
            case "\"":
                throw invalid("quoted local parts (\"…\"@example.com) are not supported")
            case "@":
                guard at == nil else { throw invalid("an email address has exactly one \"@\"") }
                at = index
            default:
                break
            }
            scalars.formIndex(after: &index)
        }
        guard let at else { throw invalid("an email address needs an \"@\" between the local part and the domain") }
        return at
    }

    /// Checks a lowercased local part: dot-atom text, where non-ASCII characters (RFC 6531)
    /// count as text unless they are invisible or unassigned.
    private static func validateLocalPart(_ scalars: some Sequence<Unicode.Scalar>, octets: Int) throws(HushError) {
        guard octets > 0 else { throw invalid("the local part before \"@\" is empty") }
        guard octets <= maximumLocalPartOctets else {
            throw invalid("the local part is longer than \(maximumLocalPartOctets) octets")
        }
        var isFirst = true
        var previousIsDot = false
        for scalar in scalars {
            if scalar == "." {
                if isFirst { throw invalid("the local part cannot start with a dot") }
                if previousIsDot { throw invalid("the local part cannot contain two dots in a row") }
                previousIsDot = true
            } else {
                guard isLocalPartText(scalar) else {
                    throw invalid("the local part cannot contain \(scalar.nameForMessage)")
                }
                previousIsDot = false
            }
            isFirst = false
        }
        if previousIsDot { throw invalid("the local part cannot end with a dot") }
    }

    /// Checks an ASCII domain without its trailing dot: at most 253 octets, two or more labels
    /// of 1–63 letters, digits and inner hyphens, and a top-level label that is not all digits.
    /// Hyphens in a label's third and fourth places are for `xn--` labels alone, and those must
    /// decode to a valid U-label.
    private static func validateDomain(_ domain: some Collection<UInt8>) throws(HushError) {
        guard !domain.isEmpty else { throw invalid("the domain after \"@\" is empty") }
        guard domain.count <= maximumDomainOctets else {
            throw invalid("the domain is longer than \(maximumDomainOctets) octets")
        }
        var labelCount = 0
        var labelLength = 0
        var labelIsNumeric = true
        var previous: UInt8 = 0
        func finishLabel() throws(HushError) {
            guard labelLength > 0 else {
                throw invalid("the domain has an empty label (a leading dot or two dots in a row)")
            }
            guard labelLength <= 63 else { throw invalid("a domain label is longer than 63 octets") }
            guard previous != UInt8(ascii: "-") else { throw invalid("a domain label cannot end with a hyphen") }
            labelCount += 1
        }
        for byte in domain {
            if byte == UInt8(ascii: ".") {
                try finishLabel()
                labelLength = 0
                labelIsNumeric = true
            } else {
                guard isLetterOrDigit(byte) || byte == UInt8(ascii: "-") else {
                    throw invalid("the domain cannot contain \(Unicode.Scalar(byte).nameForMessage)")
                }
                if labelLength == 0, byte == UInt8(ascii: "-") {
                    throw invalid("a domain label cannot start with a hyphen")
                }
                labelLength += 1
                labelIsNumeric = labelIsNumeric && isDigit(byte)
            }
            previous = byte
        }
        try finishLabel()
        try validateReservedLabels(domain)
        guard labelCount >= 2 else {
            let name = String(decoding: domain, as: UTF8.self)
            throw invalid("the domain \"\(name)\" needs at least two labels, like example.com")
        }
        guard !labelIsNumeric else { throw invalid("the top-level domain cannot be all digits") }
    }

    /// Labels with `--` in their third and fourth places: `xn--` ones are decoded and checked as
    /// IDNA 2008 says, others are refused (RFC 5891 section 4.2.3.1).
    private static func validateReservedLabels(_ domain: some Collection<UInt8>) throws(HushError) {
        // Nearly every domain has no "--" at all: look before splitting anything.
        var previous: UInt8 = 0
        guard domain.contains(where: { byte in
            defer { previous = byte }
            return byte == UInt8(ascii: "-") && previous == byte
        }) else { return }
        for piece in domain.split(separator: UInt8(ascii: ".")) where piece.count >= 4 {
            let lowered = piece.map(lowercasedASCII)
            guard lowered[2] == UInt8(ascii: "-"), lowered[3] == UInt8(ascii: "-") else { continue }
            if lowered.starts(with: "xn".utf8) {
                try IDNA.validate(aLabel: String(decoding: lowered.dropFirst(4), as: UTF8.self))
            } else {
                throw invalid(
                    "the domain label \"\(String(decoding: lowered, as: UTF8.self))\" has hyphens in its third and "
                        + "fourth places, which only xn-- labels may")
            }
        }
    }

    private static func isLocalPartText(_ scalar: Unicode.Scalar) -> Bool {
        guard scalar.isASCII else { return scalar.isVisibleInAddress }
        let byte = UInt8(truncatingIfNeeded: scalar.value)
        if isLetterOrDigit(byte) { return true }
        switch scalar {
        case "!", "#", "$", "%", "&", "'", "*", "+", "/", "=", "?", "^", "_", "`", "{", "|", "}", "~", "-":
            return true
        default:
            return false
        }
    }

    private static func isASCIIWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        let folded = byte | 0x20
        return isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(folded)
    }

    private static func lowercasedASCII(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }
}
