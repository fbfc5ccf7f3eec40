import Testing

@testable import HushCore

@Test(arguments: [
    ("ann@example.com", "ann@example.com"),
    ("  Ann.Lee@Example.COM\n", "ann.lee@example.com"),
    ("\tBOB+news@Mail.Example.org \r\n", "bob+news@mail.example.org"),
    ("\u{A0}ann@example.com\u{2003}", "ann@example.com"),
    ("ann@example.com.", "ann@example.com"),
    ("o'brien!#$%&*+/=?^_`{|}~-@example.com", "o'brien!#$%&*+/=?^_`{|}~-@example.com"),
    ("ann@sub-domain.example.co.uk", "ann@sub-domain.example.co.uk"),
    ("ann@123.example.com", "ann@123.example.com"),
])
func asciiEmailIsTrimmedAndLowercased(input: String, normalized: String) throws {
    #expect(try Address(email: input).normalized == normalized)
}

@Test(arguments: [
    ("Ann@M\u{FC}nchen.DE", "ann@xn--mnchen-3ya.de"),
    ("ann@B\u{FC}cher.example", "ann@xn--bcher-kva.example"),
    ("ann@XN--MNCHEN-3YA.DE", "ann@xn--mnchen-3ya.de"),
    ("ann@mu\u{308}nchen.de", "ann@xn--mnchen-3ya.de"),
    ("J\u{D6}RG@B\u{FC}cher.example", "j\u{F6}rg@xn--bcher-kva.example"),
    ("jo\u{308}rg@example.com", "j\u{F6}rg@example.com"),
    ("\u{7528}\u{6237}@\u{4F8B}\u{3048}\u{3002}\u{30C6}\u{30B9}\u{30C8}", "\u{7528}\u{6237}@xn--r8jz45g.xn--zckzah"),
    ("ann@example\u{3002}com\u{3002}", "ann@example.com"),
    ("ann@\u{FF45}\u{FF58}\u{FF41}\u{FF4D}\u{FF50}\u{FF4C}\u{FF45}.com", "ann@example.com"),
    ("eve@\u{FB01}nance.com", "eve@finance.com"),
    ("\u{39D}\u{399}\u{39A}\u{39F}\u{3A3}@example.gr", "\u{3BD}\u{3B9}\u{3BA}\u{3BF}\u{3C3}@example.gr"),
    ("\u{3BD}\u{3B9}\u{3BA}\u{3BF}\u{3C2}@example.gr", "\u{3BD}\u{3B9}\u{3BA}\u{3BF}\u{3C3}@example.gr"),
    ("stra\u{DF}e@example.de", "strasse@example.de"),
    ("\u{FB01}nance@example.com", "finance@example.com"),
    ("Kelvin\u{212A}@example.com", "kelvink@example.com"),
])
func internationalEmailGetsAPunycodeDomain(input: String, normalized: String) throws {
    #expect(try Address(email: input).normalized == normalized)
}

@Test func localPartOf64OctetsIsAccepted() throws {
    let local = String(repeating: "a", count: 64)
    #expect(try Address(email: local + "@example.com").normalized == local + "@example.com")
}

@Test func localPartLongerThan64OctetsIsRejected() throws {
    let local = String(repeating: "a", count: 65)
    let error = try #require(throws: HushError.self) { try Address(email: local + "@example.com") }
    #expect(error.message == "the local part is longer than 64 octets")
}

@Test func localPartLimitCountsUTF8OctetsNotCharacters() throws {
    let local = String(repeating: "\u{E9}", count: 33)
    let error = try #require(throws: HushError.self) { try Address(email: local + "@example.com") }
    #expect(error.message == "the local part is longer than 64 octets")
}

/// Four labels of 63, 63, 63 and `finalLength` octets, joined by three dots.
private func domain(fourthLabelLength finalLength: Int) -> String {
    let long = String(repeating: "a", count: 63)
    return [long, long, long, String(repeating: "b", count: finalLength)].joined(separator: ".")
}

@Test func domainOf252OctetsIsAcceptedInAnAddressOf254() throws {
    let name = domain(fourthLabelLength: 60)
    #expect(name.utf8.count == 252)
    #expect(try Address(email: "a@" + name).normalized == "a@" + name)
}

@Test(arguments: [62, 63])
func domainLongerThan253OctetsIsRejected(fourthLabelLength: Int) throws {
    let name = domain(fourthLabelLength: fourthLabelLength)
    let error = try #require(throws: HushError.self) { try Address(email: "ann@" + name) }
    #expect(error.message == "the domain is longer than 253 octets")
}

@Test func addressOf254OctetsIsAcceptedAndOf255Refused() throws {
    let name = [String(repeating: "a", count: 63), String(repeating: "b", count: 63), String(repeating: "c", count: 63)]
        .joined(separator: ".")
    let local = String(repeating: "x", count: 254 - 1 - name.utf8.count)
    #expect(try Address(email: local + "@" + name).normalized.utf8.count == 254)
    let error = try #require(throws: HushError.self) { try Address(email: local + "x@" + name) }
    #expect(error.message == "the address is 255 octets long; the longest an address can be is 254")
    // The limit counts the key's octets, so a Unicode local part counts its UTF-8.
    let unicodeLocal = String(repeating: "\u{E9}", count: 32)
    let unicodeError = try #require(throws: HushError.self) { try Address(email: unicodeLocal + "@" + name) }
    #expect(unicodeError.message == "the address is 256 octets long; the longest an address can be is 254")
}

@Test(arguments: ["x@-b\u{FC}cher.de", "x@b\u{FC}cher-.de", "x@xn--a.com", "x@ab--cd.com"])
func domainLabelBreakingIDNARulesIsRejected(input: String) {
    #expect(throws: HushError.self) { try Address(email: input) }
}

@Test(arguments: [
    ("   ", "the address is empty"),
    ("ann.example.com", "needs an \"@\""),
    ("ann@", "the domain after \"@\" is empty"),
    ("@example.com", "the local part before \"@\" is empty"),
    ("ann@@example.com", "exactly one \"@\""),
    ("ann@lee@example.com", "exactly one \"@\""),
    ("\"ann lee\"@example.com", "quoted local parts"),
    (".ann@example.com", "cannot start with a dot"),
    ("ann.@example.com", "cannot end with a dot"),
    ("ann..lee@example.com", "two dots in a row"),
    ("ann lee@example.com", "the local part cannot contain U+0020"),
    ("ann(x)@example.com", "the local part cannot contain \"(\""),
    ("ann\u{200B}@example.com", "the local part cannot contain U+200B"),
    ("ann@localhost", "the domain \"localhost\" needs at least two labels"),
    ("ann@example.123", "the top-level domain cannot be all digits"),
    ("ann@192.0.2.1", "the top-level domain cannot be all digits"),
    ("ann@[192.0.2.1]", "the domain cannot contain \"[\""),
    ("ann@-example.com", "cannot start with a hyphen"),
    ("ann@example-.com", "cannot end with a hyphen"),
    ("ann@exa_mple.com", "cannot contain \"_\""),
    ("ann@ex ample.com", "the domain cannot contain U+0020"),
    ("ann@example..com", "empty label"),
    ("ann@.example.com", "empty label"),
    ("ann@" + String(repeating: "a", count: 64) + ".com", "longer than 63 octets"),
    ("ann@m\u{FC}n_chen.de", "cannot contain \"_\""),
    ("ann@m\u{FC}n\u{A0}chen.de", "cannot contain U+0020"),
])
func malformedEmailIsRejectedWithAReason(input: String, reason: String) throws {
    let error = try #require(throws: HushError.self) { try Address(email: input) }
    #expect(error.code == .invalidInput)
    #expect(error.field == "address")
    #expect(error.message.contains(reason), "\(error.message)")
}
