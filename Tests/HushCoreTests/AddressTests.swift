import Testing

@testable import HushCore

@Test(arguments: [
    ("ann@example.com", Address.Kind.email),
    ("+44 20 7946 0958", Address.Kind.phone),
    ("+44 20 7946 0958", Address.Kind.phone),
])
func parsingChoosesEmailWhenThereIsAnAtSign(input: String, kind: Address.Kind) throws {
    #expect(try Address(parsing: input).kind == kind)
}

@Test func parsingKeepsTheInputForDisplay() throws {
    let address = try Address(parsing: "  Ann@Example.COM ")
    #expect(address.input == "  Ann@Example.COM ")
    #expect(address.normalized == "ann@example.com")
    #expect(address.description == "ann@example.com")
}

/// An input already normalized is kept once, as `normalized`; one that differs, as given, also
/// when the address is rebuilt from storage.
@Test func anAddressGivenNormalizedKeepsOneString() throws {
    let normalized = try Address(parsing: "ann.longer.name@example.com")
    #expect(normalized.given == nil)
    #expect(normalized.input == "ann.longer.name@example.com")
    #expect(try Address(parsing: "+442079460958").given == nil)
    #expect(try Address(parsing: "+44 20 7946 0958").input == "+44 20 7946 0958")
    let stored = Address(normalized: "ann@example.com", kind: .email, input: "Ann@Example.com")
    #expect(stored.input == "Ann@Example.com")
    #expect(Address(normalized: "ann@example.com", kind: .email, input: "ann@example.com").given == nil)
    // Canonically equal, not the same bytes: the input is kept as given.
    let decomposed = try Address(parsing: "jose\u{301}@example.com")
    #expect(Array(decomposed.input.utf8) == Array("jose\u{301}@example.com".utf8))
    #expect(Array(decomposed.normalized.utf8) == Array("jos\u{E9}@example.com".utf8))
}

@Test func spellingsOfOneEmailAreEqualAndHashAlike() throws {
    let unicode = try Address(parsing: "Ann@M\u{FC}nchen.DE")
    let ascii = try Address(parsing: " ann@xn--mnchen-3ya.de")
    #expect(unicode == ascii)
    #expect(Set([unicode, ascii]).count == 1)
}

@Test func spellingsOfOnePhoneNumberAreEqualAndHashAlike() throws {
    let international = try Address(parsing: "+44 20 7946 0958")
    let national = try Address(parsing: "020 7946 0958", region: .gb)
    let dialled = try Address(parsing: "011 44 20 7946 0958", region: .us)
    #expect(international == national)
    #expect(national == dialled)
    #expect(Set([international, national, dialled]).count == 1)
}

@Test func emptyInputIsRejected() throws {
    let error = try #require(throws: HushError.self) { try Address(parsing: " \n\t") }
    #expect(error.code == .invalidInput)
    #expect(error.field == "address")
    #expect(error.message == "the address is empty")
}
