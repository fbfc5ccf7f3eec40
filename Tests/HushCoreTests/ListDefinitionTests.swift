import Testing

@testable import HushCore

@Test func listNeedsOnlyAName() throws {
    let list = try ListDefinition(name: "newsletter")
    #expect(list.name == "newsletter")
    #expect(list.description == "")
    #expect(list.keywords.isEmpty)
    #expect(list.message == nil)
    #expect(list.webhookURL == nil)
    #expect(list.channels == Set(Channel.allCases))
}

@Test func listNameIsTrimmed() throws {
    #expect(try ListDefinition(name: "  Weekly News \n").name == "Weekly News")
}

@Test(arguments: [1, 50])
func listNameOfOneToFiftyCharactersIsAccepted(length: Int) throws {
    let name = String(repeating: "n", count: length)
    #expect(try ListDefinition(name: name).name == name)
}

@Test func listNameLimitCountsCharactersNotBytes() throws {
    let name = String(repeating: "\u{E9}", count: 50)
    #expect(try ListDefinition(name: name).name == name)
}

@Test(arguments: [String(repeating: "n", count: 51), "", "   ", "\n\t"])
func listNameThatIsBlankOrOverFiftyCharactersIsRejected(name: String) throws {
    let error = try #require(throws: HushError.self) { try ListDefinition(name: name) }
    #expect(error.code == .invalidInput)
    #expect(error.field == "name")
}

@Test func descriptionOf300CharactersIsAccepted() throws {
    let description = String(repeating: "d", count: 300)
    #expect(try ListDefinition(name: "news", description: description).description == description)
}

@Test func descriptionOver300CharactersIsRejected() throws {
    let error = try #require(throws: HushError.self) {
        try ListDefinition(name: "news", description: String(repeating: "d", count: 301))
    }
    #expect(error.code == .invalidInput)
    #expect(error.field == "description")
}

@Test func descriptionIsTrimmed() throws {
    #expect(try ListDefinition(name: "news", description: "  Weekly digest ").description == "Weekly digest")
}

@Test(arguments: [1, 300])
func messageOfOneTo300CharactersIsAccepted(length: Int) throws {
    let message = String(repeating: "m", count: length)
    #expect(try ListDefinition(name: "news", message: message).message == message)
}

@Test(arguments: ["", "  ", String(repeating: "m", count: 301)])
func messageThatIsBlankOrOver300CharactersIsRejected(message: String) throws {
    let error = try #require(throws: HushError.self) { try ListDefinition(name: "news", message: message) }
    #expect(error.code == .invalidInput)
    #expect(error.field == "message")
}

@Test func messageIsTrimmed() throws {
    #expect(try ListDefinition(name: "news", message: " You are out. \n").message == "You are out.")
}

@Test func keywordsAreTrimmedAndUppercasedInOrder() throws {
    let list = try ListDefinition(name: "news", keywords: [" news off", "Promo Stop ", "ARRÊT"])
    #expect(list.keywords == ["NEWS OFF", "PROMO STOP", "ARRÊT"])
}

@Test(arguments: [1, 50])
func keywordOfOneToFiftyCharactersIsAccepted(length: Int) throws {
    let keyword = String(repeating: "K", count: length)
    #expect(try ListDefinition(name: "news", keywords: [keyword]).keywords == [keyword])
}

@Test(arguments: [
    (["HALT", ""], "keywords[1]"),
    (["  "], "keywords[0]"),
    (["HALT", "NOPE", String(repeating: "k", count: 51)], "keywords[2]"),
])
func keywordThatIsBlankOrOverFiftyCharactersIsRejectedByPosition(keywords: [String], field: String) throws {
    let error = try #require(throws: HushError.self) { try ListDefinition(name: "news", keywords: keywords) }
    #expect(error.code == .invalidInput)
    #expect(error.field == field)
}

@Test(arguments: ["STOP", " stopall", "Unsubscribe", "cancel", "END", "quit", "START", "unstop"])
func ctiaWordsAreNeverListKeywords(keyword: String) throws {
    let error = try #require(throws: HushError.self) { try ListDefinition(name: "news", keywords: ["PROMO", keyword]) }
    #expect(error.field == "keywords[1]")
}

@Test func keywordSpanningLinesIsRejected() throws {
    let error = try #require(throws: HushError.self) { try ListDefinition(name: "news", keywords: ["STOP\nNOW"]) }
    #expect(error.field == "keywords[0]")
}

@Test(arguments: [
    (["HALT", "NOPE", "HALT"], "keywords[2]"),
    (["halt", " HALT "], "keywords[1]"),
    (["Nope", "HALT", "nope"], "keywords[2]"),
])
func keywordListedTwiceIsRejectedAtTheRepeat(keywords: [String], field: String) throws {
    let error = try #require(throws: HushError.self) { try ListDefinition(name: "news", keywords: keywords) }
    #expect(error.code == .invalidInput)
    #expect(error.field == field)
}

@Test(arguments: [
    "https://hooks.example.com/hush",
    "http://hooks.example.com",
    "HTTPS://hooks.example.com/a?b=c",
    "https://127.0.0.1:8443/hook",
    "https://user:pw@hooks.example.com/h",
    "http://[::1]:8080/hook",
    "https://example.com?token=1",
])
func webhookURLWithHTTPSchemeAndHostIsAccepted(url: String) throws {
    #expect(try ListDefinition(name: "news", webhookURL: url).webhookURL == url)
}

@Test func webhookURLIsTrimmed() throws {
    #expect(try ListDefinition(name: "news", webhookURL: " https://example.com/h \n").webhookURL == "https://example.com/h")
}

@Test(arguments: [
    "ftp://example.com/hook",
    "example.com/hook",
    "javascript:alert(1)",
    "https://",
    "http:///hook",
    "https://?x=1",
    "https://#hook",
    "https://exa mple.com/hook",
    "",
])
func webhookURLWithoutHTTPSchemeOrHostIsRejected(url: String) throws {
    let error = try #require(throws: HushError.self) { try ListDefinition(name: "news", webhookURL: url) }
    #expect(error.code == .invalidInput)
    #expect(error.field == "webhook_url")
}

@Test(arguments: ["https://:443/hook", "https://@/hook", "https://user@/hook", "https://user:pw@:8080"])
func webhookURLWithUserOrPortButNoHostIsRejected(url: String) throws {
    let error = try #require(throws: HushError.self) { try ListDefinition(name: "news", webhookURL: url) }
    #expect(error.field == "webhook_url")
}

@Test func webhookURLOver2048BytesIsRejected() throws {
    let url = "https://example.com/" + String(repeating: "p", count: 2029)
    let error = try #require(throws: HushError.self) { try ListDefinition(name: "news", webhookURL: url) }
    #expect(error.field == "webhook_url")
}

@Test func listCanCoverASubsetOfChannels() throws {
    #expect(try ListDefinition(name: "texts", channels: [.sms, .whatsapp]).channels == [.sms, .whatsapp])
}

@Test func listWithoutChannelsIsRejected() throws {
    let error = try #require(throws: HushError.self) { try ListDefinition(name: "news", channels: []) }
    #expect(error.code == .invalidInput)
    #expect(error.field == "channels")
}
