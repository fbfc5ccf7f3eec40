import Testing

@testable import HushCore

@Test func emptyPathIsTheWholeOrganization() throws {
    let scope = try Scope(parsing: "")
    #expect(scope == .organization)
    #expect(scope.isOrganization)
    #expect(scope.segments.isEmpty)
}

@Test(arguments: ["acme-news", "acme-news/alice", "a.b/c_d/0-9", "a/b/c/d/e/f/g/h"])
func validScopePathIsKeptAsWritten(path: String) throws {
    let scope = try Scope(parsing: path)
    #expect(scope.path == path)
    #expect(!scope.isOrganization)
}

@Test func scopeSegmentsAreTheSlashSeparatedParts() throws {
    #expect(try Scope(parsing: "acme-news/alice").segments == ["acme-news", "alice"])
}

@Test func eightLevelsIsTheDeepestScope() throws {
    let scope = try Scope(parsing: "a/b/c/d/e/f/g/h")
    #expect(scope.segments.count == Scope.maximumDepth)
}

@Test func nineLevelsIsRejected() throws {
    let error = try #require(throws: HushError.self) { try Scope(parsing: "a/b/c/d/e/f/g/h/i") }
    #expect(error.code == .invalidInput)
    #expect(error.field == "scope")
}

@Test func segmentOf64CharactersIsAccepted() throws {
    let segment = String(repeating: "a", count: 64)
    #expect(try Scope(parsing: "brand/" + segment).segments.last == Substring(segment))
}

@Test func segmentOf65CharactersIsRejected() throws {
    let segment = String(repeating: "a", count: 65)
    let error = try #require(throws: HushError.self) { try Scope(parsing: "brand/" + segment) }
    #expect(error.code == .invalidInput)
    #expect(error.field == "scope")
}

@Test(arguments: ["Acme", "acme/Alice", "acme news", " acme", "acme\t", "acme/ali\u{E9}", "acme\\alice"])
func scopeWithCharacterOutsideItsAlphabetIsRejected(path: String) throws {
    let error = try #require(throws: HushError.self) { try Scope(parsing: path) }
    #expect(error.code == .invalidInput)
    #expect(error.field == "scope")
}

@Test(arguments: ["a//b", "/a", "a/", "/", "//"])
func scopeWithAnEmptySegmentIsRejected(path: String) throws {
    let error = try #require(throws: HushError.self) { try Scope(parsing: path) }
    #expect(error.code == .invalidInput)
    #expect(error.field == "scope")
}

@Test(arguments: ["", "a", "a/b", "x/y/z"])
func organizationCoversEveryScope(path: String) throws {
    #expect(Scope.organization.covers(try Scope(parsing: path)))
}

@Test func scopeCoversItself() throws {
    let scope = try Scope(parsing: "a/b")
    #expect(scope.covers(scope))
}

@Test(arguments: ["a/b/c", "a/b/c/d"])
func scopeCoversScopesBelowIt(path: String) throws {
    #expect(try Scope(parsing: "a/b").covers(Scope(parsing: path)))
}

@Test(arguments: ["a/x", "a", "", "b"])
func scopeDoesNotCoverSiblingsOrAncestors(path: String) throws {
    #expect(try !Scope(parsing: "a/b").covers(Scope(parsing: path)))
}

@Test(arguments: ["a/bc", "a/b.c", "a/b-c/d"])
func scopeDoesNotCoverAPathThatMerelyStartsWithItsText(path: String) throws {
    #expect(try !Scope(parsing: "a/b").covers(Scope(parsing: path)))
}

@Test func selfAndAncestorsRunsFromTheScopeUpToTheOrganization() throws {
    let ancestors = try Scope(parsing: "a/b/c").selfAndAncestors.map(\.path)
    #expect(ancestors == ["a/b/c", "a/b", "a", ""])
}

@Test func selfAndAncestorsOfTheOrganizationIsJustTheOrganization() {
    #expect(Scope.organization.selfAndAncestors == [.organization])
}

@Test func everyAncestorCoversTheScope() throws {
    let scope = try Scope(parsing: "acme/news/alice")
    #expect(scope.selfAndAncestors.allSatisfy { $0.covers(scope) })
}

@Test func organizationDescribesItselfInWords() {
    #expect(Scope.organization.description == "(organization)")
}

@Test func scopeDescribesItselfByItsPath() throws {
    #expect(try Scope(parsing: "acme/alice").description == "acme/alice")
}
