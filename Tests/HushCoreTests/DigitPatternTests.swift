import Testing

@testable import HushCore

private func digits(_ text: String) -> ArraySlice<UInt8> { Array(text.utf8)[...] }

@Test func prefixMatchTakesTheFirstAlternativeThatMatchesAsPythonDoes() throws {
    // Leftmost-first, not longest: `0|01` matches "0" of "0123".
    #expect(DigitPattern("0|01").prefixMatch(digits("0123"))?.end == 1)
    #expect(DigitPattern("01|0").prefixMatch(digits("0123"))?.end == 2)
}

@Test func quantifiersAreGreedyAndBacktrack() throws {
    #expect(DigitPattern("\\d{2,4}").prefixMatch(digits("123456"))?.end == 4)
    #expect(DigitPattern("\\d+5").prefixMatch(digits("123456"))?.end == 5)
    #expect(DigitPattern("0?(?:1[2-4])").prefixMatch(digits("13"))?.end == 2)
}

@Test func wholeMatchTriesEveryWay() {
    let pattern = DigitPattern("[2-9]\\d{9}|3\\d{6}")
    #expect(pattern.matchesWhole(digits("4155550100")))
    #expect(pattern.matchesWhole(digits("3101234")))
    #expect(!pattern.matchesWhole(digits("31012345")))
    #expect(!pattern.matchesWhole(digits("1155550100")))
}

@Test func groupsAreCapturedAndAnUnmatchedGroupIsNil() throws {
    // Brazil's national prefix for parsing: a carrier code and the number after the trunk 0.
    let pattern = DigitPattern("(?:0|90)(?:(1[245]|2[1-35]|31|4[13]|[56]5|99)(\\d{10,11}))?")
    let withCarrier = try #require(pattern.prefixMatch(digits("0211123456789")))
    #expect(withCarrier.group(1) == 1..<3)
    #expect(withCarrier.group(2) == 3..<13)
    let plain = try #require(pattern.prefixMatch(digits("01123456789")))
    #expect(plain.end == 1)
    #expect(plain.group(2) == nil)
}

@Test func endAnchorMatchesOnlyAtTheEnd() {
    let pattern = DigitPattern("([457]\\d{6})$|1")
    #expect(pattern.prefixMatch(digits("4621234"))?.group(1) == 0..<7)
    #expect(pattern.prefixMatch(digits("14621234"))?.end == 1)
}

@Test func canStartWithKnowsTheFirstDigits() {
    let pattern = DigitPattern("[2-9]\\d{9}|3\\d{6}")
    #expect(!pattern.canStart(with: UInt8(ascii: "0")))
    #expect(!pattern.canStart(with: UInt8(ascii: "1")))
    #expect(pattern.canStart(with: UInt8(ascii: "2")))
}

@Test func everyGeneratedPatternCompiles() {
    // Building the tables parses every pattern; a syntax the matcher lacks would trap here.
    #expect(PhoneMetadata.tables.regions.count == 245)
    #expect(PhoneMetadata.tables.byCallingCode.compactMap { $0 }.count == 215)
    #expect(PhoneMetadata.tables.plan(forCallingCode: 800)?.id == "001")
    #expect(PhoneMetadata.tables.plan(forCallingCode: 1000) == nil)
}
