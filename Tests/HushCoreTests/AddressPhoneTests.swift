import Testing

@testable import HushCore

@Test(arguments: [
    ("(415) 555-0100", Region.us, "+14155550100"),
    ("1-415-555-0100", Region.us, "+14155550100"),
    ("415.555.0100", Region.us, "+14155550100"),
    ("(416) 555-0100", Region.ca, "+14165550100"),
    ("020 7946 0958", Region.gb, "+442079460958"),
    ("07700 900123", Region.gb, "+447700900123"),
    ("0113 496 0000", Region.gb, "+441134960000"),
    ("030 123456", Region.de, "+4930123456"),
    ("030/123456", Region.de, "+4930123456"),
    ("01 23 45 67 89", Region.fr, "+33123456789"),
    ("09876543210", Region.in, "+919876543210"),
    ("9876543210", Region.in, "+919876543210"),
    ("0412 345 678", Region.au, "+61412345678"),
    ("(11) 91234-5678", Region.br, "+5511912345678"),
    ("(11) 3123-4567", Region.br, "+551131234567"),
    ("55 1234 5678", Region.mx, "+525512345678"),
    ("912 345 678", Region.es, "+34912345678"),
    ("06 1234 5678", Region.it, "+390612345678"),
    ("312 345 6789", Region.it, "+393123456789"),
    ("020 123 4567", Region.nl, "+31201234567"),
    ("021 123 4567", Region.za, "+27211234567"),
    ("1800 123 456", Region.au, "+611800123456"),
    ("0800 12 3456", Region.br, "+55800123456"),
    ("0800 1234", Region.nl, "+318001234"),
    ("310-1234", Region.ca, "+13101234"),
    ("0 21 11 2345 6789", Region.br, "+551123456789"),
    ("011 15 2345 6789", Region(code: "AR")!, "+5491123456789"),
    ("462 1234", Region(code: "AG")!, "+12684621234"),
    ("4420 7946 0958", Region.gb, "+442079460958"),
    ("\u{FF10}\u{FF12}\u{FF10} \u{FF17}\u{FF19}\u{FF14}\u{FF16} \u{FF10}\u{FF19}\u{FF15}\u{FF18}", Region.gb, "+442079460958"),
    ("03-1234-5678", Region(code: "JP")!, "+81312345678"),
])
func nationalNumberTakesTheRegionsCallingCode(input: String, region: Region, e164: String) throws {
    #expect(try Address(phone: input, region: region).normalized == e164)
}

@Test(arguments: [
    ("+44 20 7946 0958", "+442079460958"),
    ("  +1 (415) 555-0100\n", "+14155550100"),
    ("+44 01212345678", "+441212345678"),
    ("+49 030123456", "+4930123456"),
    ("+33 0123456789", "+33123456789"),
    ("+61 0412345678", "+61412345678"),
    ("+683 7012", "+6837012"),
    ("+290 8999", "+2908999"),
    ("+54 9 11 2345 6789", "+5491123456789"),
    ("+800 1234 5678", "+80012345678"),
    ("tel:+1-415-555-2671", "+14155552671"),
    ("TEL:+44-20-7946-0958", "+442079460958"),
    ("\u{FF0B}\u{FF14}\u{FF14} \u{FF12}\u{FF10} \u{FF17}\u{FF19}\u{FF14}\u{FF16} \u{FF10}\u{FF19}\u{FF15}\u{FF18}", "+442079460958"),
    ("+44 (0)20 7946 0958", "+442079460958"),
    ("+39 (0)6 1234 5678", "+390612345678"),
    ("+49\u{2013}30\u{2013}123456", "+4930123456"),
    ("+33.1.23.45.67.89", "+33123456789"),
])
func internationalNumberNeedsNoRegion(input: String, e164: String) throws {
    #expect(try Address(phone: input).normalized == e164)
}

@Test func numberWithPlusIgnoresTheRegion() throws {
    #expect(try Address(phone: "+44 20 7946 0958", region: .us).normalized == "+442079460958")
}

@Test(arguments: [
    ("011 44 20 7946 0958", Region.us, "+442079460958"),
    ("0011 44 20 7946 0958", Region.au, "+442079460958"),
    ("00 1 415 555 0100", Region.de, "+14155550100"),
    ("00 44 (0)121 234 5678", Region.gb, "+441212345678"),
    ("0014 44 20 7946 0958", Region.au, "+442079460958"),
    ("0021 44 20 7946 0958", Region.br, "+442079460958"),
])
func internationalPrefixOfTheRegionIsRecognised(input: String, region: Region, e164: String) throws {
    #expect(try Address(phone: input, region: region).normalized == e164)
}

@Test(arguments: ["020 7946 0958", "0044 20 7946 0958", "011 44 20 7946 0958"])
func numberWithoutPlusOrRegionIsRejected(input: String) throws {
    let error = try #require(throws: HushError.self) { try Address(phone: input) }
    #expect(error.field == "address")
    #expect(
        error.message
            == "a national number needs a region; set default_region or write it with + and the country code")
}

@Test(arguments: ["+0123 456 789", "+999 1234 5678"])
func numberWithoutACallingCodeIsRejected(input: String) throws {
    let error = try #require(throws: HushError.self) { try Address(phone: input) }
    #expect(error.message == "\"\(input)\" does not start with a country calling code")
}

@Test(arguments: ["+1234567890123456", "+44 20 7946 0958 1234", "00 1234 5678 9012 3456 7890 1234"])
func numberWithMoreThan15DigitsIsRejected(input: String) throws {
    let error = try #require(throws: HushError.self) { try Address(phone: input) }
    #expect(error.message.contains("is not a"), "\(error.message)")
}

@Test func numberIsCheckedAgainstItsCallingCodesLengths() throws {
    let error = try #require(throws: HushError.self) { try Address(phone: "+123 4567") }
    #expect(
        error.message
            == "\"+123 4567\" is not a possible +1 number: national numbers under +1 have 10 digits after the "
            + "country code and national prefix, this one has 6")
}

@Test(arguments: [
    ("555-0100 ext 12", "ext 12"), ("+1 415 555 2671 x3", "x3"), ("+1 415 555 2671 #3", "#3"),
    ("tel:+1-415-555-2671;ext=3", "ext=3"), ("+1 415 555 26~71", "~71"), ("+1 415 555 26\u{FF5E}71", "\u{FF5E}71"),
])
func extensionIsRefusedAndNamed(input: String, extensionText: String) throws {
    let error = try #require(throws: HushError.self) { try Address(phone: input, region: .us) }
    #expect(error.message.contains("has an extension (\(extensionText))"), "\(error.message)")
}

@Test func telURIWithAPhoneContextIsRefused() throws {
    let error = try #require(throws: HushError.self) {
        try Address(phone: "tel:7946-0958;phone-context=+44-20", region: .gb)
    }
    #expect(error.message.contains("phone-context"), "\(error.message)")
}

@Test(arguments: ["01 55 1234 5678", "044 55 1234 5678"])
func mexicosRetiredPrefixesAreRefusedAsLibphonenumberDoes(input: String) throws {
    #expect(throws: HushError.self) { try Address(phone: input, region: .mx) }
}

@Test(arguments: [
    ("+1 415 CALL NOW", "\"C\""),
    ("+44 20 7946 0958#", "\"#\""),
    ("+44 20 7946 0958 \u{2603}", "U+2603"),
])
func characterOutsideAPhoneNumberIsNamed(input: String, character: String) throws {
    let error = try #require(throws: HushError.self) { try Address(phone: input, region: .us) }
    #expect(error.message.contains("contains \(character)"), "\(error.message)")
}

@Test(arguments: ["44 + 20 7946 0958", "++44 20 7946 0958"])
func plusOutsideTheStartIsRejected(input: String) throws {
    #expect(throws: HushError.self) { try Address(phone: input) }
}

@Test(arguments: [
    ("415 555 010", Region.us),
    ("1 415 555 01000", Region.us),
    ("01 23 45 67 8", Region.fr),
    ("09 87 65 43 2", Region.fr),
])
func nationalNumberOfTheWrongLengthIsRejected(input: String, region: Region) throws {
    let error = try #require(throws: HushError.self) { try Address(phone: input, region: region) }
    #expect(error.message.contains("is not a possible +\(region.callingCode) number"), "\(error.message)")
}

@Test func localNumberWithoutItsAreaCodeIsRejected() throws {
    let error = try #require(throws: HushError.self) { try Address(phone: "555-0100", region: .us) }
    #expect(error.message == "\"555-0100\" is a local number under +1: write it with its area code")
}

@Test(arguments: [("012 345 678", Region.es), ("0415 555 010", Region.us), ("02 1234 5678", Region.mx)])
func nationalNumberStartingWithZeroIsRejectedWhereNoneDo(input: String, region: Region) throws {
    let error = try #require(throws: HushError.self) { try Address(phone: input, region: region) }
    #expect(error.message.contains("starts with 0"), "\(error.message)")
}

@Test func phoneWithoutDigitsIsRejected() throws {
    let error = try #require(throws: HushError.self) { try Address(phone: "( ) -", region: .us) }
    #expect(error.message.contains("has no digits"))
}

@Test func digitOfAScriptNewerThanTheReferencesIsNotRead() throws {
    // A Kawi digit (Unicode 15): CPython 3.11's libphonenumber data does not know it.
    let error = try #require(throws: HushError.self) { try Address(phone: "+44 20 7946 095\u{11F58}") }
    #expect(error.message.contains("U+11F58"), "\(error.message)")
}
