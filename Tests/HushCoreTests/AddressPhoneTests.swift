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
    ("01 55 1234 5678", Region.mx, "+525512345678"),
    ("044 55 1234 5678", Region.mx, "+525512345678"),
    ("912 345 678", Region.es, "+34912345678"),
    ("06 1234 5678", Region.it, "+390612345678"),
    ("312 345 6789", Region.it, "+393123456789"),
    ("020 123 4567", Region.nl, "+31201234567"),
    ("021 123 4567", Region.za, "+27211234567"),
])
func nationalNumberTakesTheRegionsCallingCode(input: String, region: Region, e164: String) throws {
    #expect(try Address(phone: input, region: region).normalized == e164)
}

@Test(arguments: [
    ("+44 20 7946 0958", "+442079460958"),
    ("  +1 (415) 555-0100\n", "+14155550100"),
    ("0044 20 7946 0958", "+442079460958"),
    ("011 44 20 7946 0958", "+442079460958"),
    ("0011 44 20 7946 0958", "+442079460958"),
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
])
func internationalPrefixOfTheRegionIsRecognised(input: String, region: Region, e164: String) throws {
    #expect(try Address(phone: input, region: region).normalized == e164)
}

@Test func nationalNumberWithoutRegionIsRejected() throws {
    let error = try #require(throws: HushError.self) { try Address(phone: "020 7946 0958") }
    #expect(error.field == "address")
    #expect(
        error.message
            == "a national number needs a region; set default_region or write it with + and the country code")
}

@Test(arguments: ["+0123 456 789", "00 0123 456 789"])
func countryCodeStartingWithZeroIsRejected(input: String) throws {
    let error = try #require(throws: HushError.self) { try Address(phone: input) }
    #expect(error.message.hasSuffix("is not an E.164 number: country codes never start with 0"))
}

@Test func countryCodeStartingWithZeroMessageQuotesTheInput() throws {
    let error = try #require(throws: HushError.self) { try Address(phone: "+0123") }
    #expect(error.message == "\"+0123\" is not an E.164 number: country codes never start with 0")
}

@Test(arguments: ["+1234567890123456", "+44 20 7946 0958 1234", "00 1234 5678 9012 3456 7890 1234"])
func numberWithMoreThan15DigitsIsRejected(input: String) throws {
    let error = try #require(throws: HushError.self) { try Address(phone: input) }
    #expect(error.message.contains("is not an E.164 number"), "\(error.message)")
}

@Test func numberWithFewerThan8DigitsIsRejected() throws {
    let error = try #require(throws: HushError.self) { try Address(phone: "+123 4567") }
    #expect(error.message.contains("it has 7 digits"), "\(error.message)")
}

@Test(arguments: [
    ("+1 415 CALL NOW", "\"C\""),
    ("555-0100 ext 12", "\"e\""),
    ("+44 20 7946 0958#", "\"#\""),
    ("+44 20 7946 0958 \u{FF11}", "U+FF11"),
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
    ("020 7946 09", Region.gb),
    ("01 23 45 67 8", Region.fr),
    ("987654321", Region.in),
])
func nationalNumberOfTheWrongLengthIsRejected(input: String, region: Region) throws {
    let error = try #require(throws: HushError.self) { try Address(phone: input, region: region) }
    #expect(error.message.contains("is not a \(region) number"), "\(error.message)")
}

@Test(arguments: [("012 345 678", Region.es), ("0415 555 010", Region.us), ("02 1234 5678", Region.mx)])
func nationalNumberStartingWithZeroIsRejectedWhereNoneDo(input: String, region: Region) throws {
    let error = try #require(throws: HushError.self) { try Address(phone: input, region: region) }
    #expect(error.message.contains("never start with 0"), "\(error.message)")
}

@Test func phoneWithoutDigitsIsRejected() throws {
    let error = try #require(throws: HushError.self) { try Address(phone: "( ) -", region: .us) }
    #expect(error.message.contains("has no digits"))
}
