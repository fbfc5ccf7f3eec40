import Testing

@testable import HushCore

@Test func consentKeepsKindAndReferenceTrimmed() throws {
    let consent = try Consent(kind: " written_consent ", reference: "\tform-2291\n")
    #expect(consent.kind == "written_consent")
    #expect(consent.reference == "form-2291")
    #expect(consent.note == nil)
}

@Test(arguments: ["", "   ", "\n\t"])
func consentWithoutKindRequiresEvidence(kind: String) throws {
    let error = try #require(throws: HushError.self) { try Consent(kind: kind, reference: "form-2291") }
    #expect(error.code == .evidenceRequired)
    #expect(error.field == "evidence.kind")
}

@Test(arguments: ["", "   ", "\n\t"])
func consentWithoutReferenceRequiresEvidence(reference: String) throws {
    let error = try #require(throws: HushError.self) { try Consent(kind: "written_consent", reference: reference) }
    #expect(error.code == .evidenceRequired)
    #expect(error.field == "evidence.reference")
}

@Test func blankKindIsReportedBeforeBlankReference() throws {
    let error = try #require(throws: HushError.self) { try Consent(kind: " ", reference: "") }
    #expect(error.field == "evidence.kind")
}

@Test func consentEvidenceHoldsKindAndReference() throws {
    let consent = try Consent(kind: "start_keyword", reference: "msg-8812")
    #expect(consent.evidence == Evidence(["kind": .string("start_keyword"), "reference": .string("msg-8812")]))
}

@Test func consentEvidenceIncludesTheNoteWhenGiven() throws {
    let consent = try Consent(kind: "written_consent", reference: "form-2291", note: "signed at the desk")
    #expect(consent.evidence.fields["note"] == .string("signed at the desk"))
    #expect(consent.evidence.fields.count == 3)
}

@Test func consentEvidenceLeavesOutAMissingNote() throws {
    let consent = try Consent(kind: "written_consent", reference: "form-2291")
    #expect(consent.evidence.fields["note"] == nil)
}

@Test(arguments: [
    ("evidence.kind", String(repeating: "k", count: 301), "form-2291", nil as String?),
    ("evidence.reference", "written_consent", String(repeating: "r", count: 301), nil),
    ("evidence.note", "written_consent", "form-2291", String(repeating: "n", count: 301)),
])
func consentFieldOver300CharactersIsRejected(field: String, kind: String, reference: String, note: String?) throws {
    let error = try #require(throws: HushError.self) { try Consent(kind: kind, reference: reference, note: note) }
    #expect(error.code == .invalidInput)
    #expect(error.field == field)
}

@Test func consentFieldsOf300CharactersAreAccepted() throws {
    let text = String(repeating: "x", count: 300)
    let consent = try Consent(kind: text, reference: text, note: text)
    #expect(consent.note == text)
}
