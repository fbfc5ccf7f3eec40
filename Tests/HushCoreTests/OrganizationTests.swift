import Testing

@testable import HushCore

@Test(arguments: ["acme", "acme-news.eu", "a", "acme_2", String(repeating: "a", count: 64)])
func organizationNameOfLowercaseLettersDigitsAndPunctuationIsAccepted(name: String) throws {
    try Organization.validateName(name)
}

@Test(arguments: ["", String(repeating: "a", count: 65)])
func organizationNameThatIsEmptyOrOver64CharactersIsRejected(name: String) throws {
    let error = try #require(throws: HushError.self) { try Organization.validateName(name) }
    #expect(error.code == .invalidInput)
    #expect(error.field == "name")
}

@Test(arguments: ["Acme", "a/b", "acme news", "acme/", "/acme", "acme!", "m\u{FC}nchen"])
func organizationNameWithOtherCharactersIsRejected(name: String) throws {
    let error = try #require(throws: HushError.self) { try Organization.validateName(name) }
    #expect(error.code == .invalidInput)
    #expect(error.field == "name")
}

@Test func organizationNameErrorQuotesTheName() throws {
    let error = try #require(throws: HushError.self) { try Organization.validateName("Acme") }
    #expect(error.message.contains("\"Acme\""))
}

@Test(arguments: Source.allCases)
func sourceParsesFromItsName(source: Source) throws {
    #expect(try Source(parsing: source.rawValue) == source)
}

@Test func multiWordSourcesUseSnakeCase() throws {
    #expect(try Source(parsing: "one_click") == .oneClick)
    #expect(try Source(parsing: "preference_center") == .preferenceCenter)
}

@Test(arguments: ["fax", "", "API", "oneClick", "one-click"])
func unknownSourceIsRejected(input: String) throws {
    let error = try #require(throws: HushError.self) { try Source(parsing: input) }
    #expect(error.code == .invalidInput)
    #expect(error.field == "source")
}

@Test func unknownSourceErrorListsTheKnownSources() throws {
    let error = try #require(throws: HushError.self) { try Source(parsing: "fax") }
    #expect(Source.allCases.allSatisfy { error.message.contains($0.rawValue) })
}

@Test(arguments: Source.allCases)
func onlyLinkOneClickAndKeywordArriveThroughAChannel(source: Source) {
    #expect(source.arrivesThroughChannel == [Source.link, .oneClick, .keyword].contains(source))
}
