import Testing

@testable import HushCore

/// The sample strings of RFC 3492 section 7.1, as (label, Unicode, Punycode).
private let rfc3492Samples: [(String, String, String)] = [
    (
        "(A) Arabic (Egyptian)",
        "\u{644}\u{64A}\u{647}\u{645}\u{627}\u{628}\u{62A}\u{643}\u{644}\u{645}\u{648}\u{634}\u{639}\u{631}\u{628}\u{64A}\u{61F}",
        "egbpdaj6bu4bxfgehfvwxn"
    ),
    (
        "(B) Chinese (simplified)",
        "\u{4ED6}\u{4EEC}\u{4E3A}\u{4EC0}\u{4E48}\u{4E0D}\u{8BF4}\u{4E2D}\u{6587}",
        "ihqwcrb4cv8a8dqg056pqjye"
    ),
    (
        "(C) Chinese (traditional)",
        "\u{4ED6}\u{5011}\u{7232}\u{4EC0}\u{9EBD}\u{4E0D}\u{8AAA}\u{4E2D}\u{6587}",
        "ihqwctvzc91f659drss3x8bo0yb"
    ),
    (
        "(D) Czech",
        "Pro\u{10D}prost\u{11B}nemluv\u{ED}\u{10D}esky",
        "Proprostnemluvesky-uyb24dma41a"
    ),
    (
        "(E) Hebrew",
        "\u{5DC}\u{5DE}\u{5D4}\u{5D4}\u{5DD}\u{5E4}\u{5E9}\u{5D5}\u{5D8}\u{5DC}\u{5D0}\u{5DE}\u{5D3}\u{5D1}\u{5E8}\u{5D9}\u{5DD}\u{5E2}\u{5D1}\u{5E8}\u{5D9}\u{5EA}",
        "4dbcagdahymbxekheh6e0a7fei0b"
    ),
    (
        "(G) Japanese (kanji and hiragana)",
        "\u{306A}\u{305C}\u{307F}\u{3093}\u{306A}\u{65E5}\u{672C}\u{8A9E}\u{3092}\u{8A71}\u{3057}\u{3066}\u{304F}\u{308C}\u{306A}\u{3044}\u{306E}\u{304B}",
        "n8jok5ay5dzabd5bym9f0cm5685rrjetr6pdxa"
    ),
    (
        "(I) Russian (Cyrillic), lowercase",
        "\u{43F}\u{43E}\u{447}\u{435}\u{43C}\u{443}\u{436}\u{435}\u{43E}\u{43D}\u{438}\u{43D}\u{435}\u{433}\u{43E}\u{432}\u{43E}\u{440}\u{44F}\u{442}\u{43F}\u{43E}\u{440}\u{443}\u{441}\u{441}\u{43A}\u{438}",
        "b1abfaaepdrnnbgefbadotcwatmq2g4l"
    ),
    (
        "(J) Spanish",
        "Porqu\u{E9}nopuedensimplementehablarenEspa\u{F1}ol",
        "PorqunopuedensimplementehablarenEspaol-fmd56a"
    ),
    (
        "(K) Vietnamese",
        "T\u{1EA1}isaoh\u{1ECD}kh\u{F4}ngth\u{1EC3}ch\u{1EC9}n\u{F3}iti\u{1EBF}ngVi\u{1EC7}t",
        "TisaohkhngthchnitingVit-kjcr8268qyxafd2f1b9g"
    ),
    (
        "(L) 3<nen>B<gumi><kinpachi><sensei>",
        "3\u{5E74}B\u{7D44}\u{91D1}\u{516B}\u{5148}\u{751F}",
        "3B-ww4c5e180e575a65lsy2b"
    ),
    (
        "(M) <amuro><namie>-with-SUPER-MONKEYS",
        "\u{5B89}\u{5BA4}\u{5948}\u{7F8E}\u{6075}-with-SUPER-MONKEYS",
        "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n"
    ),
    (
        "(P) Maji<de>Koi<suru>5<byou><mae>",
        "Maji\u{3067}Koi\u{3059}\u{308B}5\u{79D2}\u{524D}",
        "MajiKoi5-783gue6qz075azm5e"
    ),
    (
        "(Q) <pafii>de<runba>",
        "\u{30D1}\u{30D5}\u{30A3}\u{30FC}de\u{30EB}\u{30F3}\u{30D0}",
        "de-jg4avhby1noc0d"
    ),
    (
        "(S) -> $1.00 <-",
        "-> $1.00 <-",
        "-> $1.00 <--"
    ),
]

@Test(arguments: rfc3492Samples)
func encodingMatchesRFC3492Samples(sample: (String, String, String)) throws {
    let (_, unicode, punycode) = sample
    #expect(try Punycode.encode(unicode.unicodeScalars) == punycode)
}

@Test(arguments: rfc3492Samples)
func decodingMatchesRFC3492Samples(sample: (String, String, String)) throws {
    let (_, unicode, punycode) = sample
    #expect(try Punycode.decode(punycode) == unicode)
}

@Test func decodingReadsDigitsInEitherCase() throws {
    #expect(try Punycode.decode("mnchen-3YA") == "m\u{FC}nchen")
}

@Test(arguments: ["a\u{FC}", "abc-9999999999999999", "ab!c", "mnchen-3y"])
func malformedPunycodeIsRejected(punycode: String) {
    #expect(throws: HushError.self) { try Punycode.decode(punycode) }
}

@Test(arguments: [
    ("m\u{FC}nchen.de", "xn--mnchen-3ya.de"),
    ("B\u{FC}cher.example", "xn--bcher-kva.example"),
    ("M\u{DC}NCHEN.DE", "xn--mnchen-3ya.de"),
    ("mu\u{308}nchen.de", "xn--mnchen-3ya.de"),
    ("\u{4F8B}\u{3048}\u{3002}\u{30C6}\u{30B9}\u{30C8}", "xn--r8jz45g.xn--zckzah"),
    ("example\u{FF0E}com", "example.com"),
    ("sub\u{FF61}Example.COM", "sub.example.com"),
    ("Example.com.", "example.com"),
    ("\u{FF45}\u{FF58}\u{FF41}\u{FF4D}\u{FF50}\u{FF4C}\u{FF45}.com", "example.com"),
    ("\u{FB01}nance.com", "finance.com"),
    ("ex\u{AD}ample.com", "example.com"),
    ("fa\u{DF}.de", "xn--fa-hia.de"),
])
func domainIsConvertedToASCII(domain: String, ascii: String) throws {
    #expect(try IDNA.toASCII(domain: domain) == ascii)
}

@Test(arguments: [
    "", ".example.com", "example..com", "-b\u{FC}cher.de", "b\u{FC}cher-.de", "a\u{200D}b.com",
    "\u{2603}.net", "\u{301}a.com", "\u{5D0}a.com",
])
func domainWithEmptyLabelOrInvisibleCharacterIsRejected(domain: String) {
    #expect(throws: HushError.self) { try IDNA.toASCII(domain: domain) }
}

@Test func labelLongerThan63OctetsOnceEncodedIsRejected() throws {
    let label = String(repeating: "\u{FC}", count: 60)
    let error = try #require(throws: HushError.self) { try IDNA.toASCII(domain: label + ".de") }
    #expect(error.code == .invalidInput)
    #expect(error.field == "address")
    #expect(error.message.contains("longer than 63 octets"))
}

@Test func labelOf63OctetsIsAccepted() throws {
    let label = String(repeating: "a", count: 63)
    #expect(try IDNA.toASCII(domain: label + ".de") == label + ".de")
}

@Test(arguments: ["xn--zz.com", "xn--a.com", "xn--ls8h.la", "xn--n3h.net", "xn--mnchen-3ya-.de", "ab--cd.com"])
func reservedOrInvalidALabelIsRejected(domain: String) throws {
    let error = try #require(throws: HushError.self) { try Address(email: "ann@" + domain) }
    #expect(error.field == "address")
}

@Test func validALabelIsKeptAsGiven() throws {
    #expect(try Address(email: "ann@XN--MNCHEN-3YA.de").normalized == "ann@xn--mnchen-3ya.de")
}

@Test(arguments: [("\u{645}\u{62B}\u{627}\u{644}.\u{625}\u{62E}\u{62A}\u{628}\u{627}\u{631}", "xn--mgbh0fb.xn--kgbechtv")])
func rightToLeftLabelThatKeepsTheBidiRuleIsAccepted(domain: String, ascii: String) throws {
    #expect(try IDNA.toASCII(domain: domain) == ascii)
}

@Test func longLabelIsRefusedBeforeItsCharactersAreChecked() throws {
    let label = String(repeating: "\u{660}", count: 8_000)
    let error = try #require(throws: HushError.self) { try IDNA.toASCII(domain: label + ".com") }
    #expect(error.message.contains("longer than 63 octets"))
    #expect(throws: HushError.self) { try Address(email: "ann@" + label + ".com") }
}
