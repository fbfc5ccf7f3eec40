import Foundation
import HushCore
import Testing

@Suite struct LinkTokenTests {
    let claims = LinkClaims(
        purpose: .unsubscribe, organization: 7, address: "ann@example.com", contact: "crm-1", channel: "email",
        scope: "brand/rep", list: 3, campaign: "spring", issuedAt: 1_795_000_000)

    @Test func aSignedTokenReadsBackAndIsURLSafe() throws {
        let signer = try LinkSigner(keys: [LinkKey.generate()])
        let token = signer.sign(claims)
        #expect(token.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) })
        let (read, id) = try signer.verify(token)
        #expect(read == claims)
        #expect(id.count == 16)
    }

    @Test func alteredCutOrForeignTokensAreRefused() throws {
        let key = LinkKey.generate()
        let signer = try LinkSigner(keys: [key])
        let token = signer.sign(claims)
        var parts = token.split(separator: ".").map(String.init)
        // Another address inside, same signature.
        var altered = claims
        altered.address = "bob@example.com"
        parts[2] = (try JSONEncoder().encode(altered)).base64URLEncoded()
        #expect(throws: HushError.self) { try signer.verify(parts.joined(separator: ".")) }
        #expect(throws: HushError.self) { try signer.verify(String(token.dropLast(3))) }
        #expect(throws: HushError.self) { try signer.verify(String(token.prefix(20))) }
        #expect(throws: HushError.self) { try signer.verify("") }
        let stranger = try LinkSigner(keys: [LinkKey(id: key.id, secret: LinkKey.generate().secret)])
        #expect(throws: HushError.self) { try stranger.verify(token) }
        let unknownKey = try LinkSigner(keys: [LinkKey.generate()])
        #expect(throws: HushError.self) { try unknownKey.verify(token) }
    }

    @Test func onlyTheCanonicalSpellingOfASignatureIsAccepted() throws {
        let signer = try LinkSigner(keys: [LinkKey.generate()])
        let token = signer.sign(claims)
        // 32 bytes in base64url end in a character carrying 2 unused bits: flipping them spells
        // the same bytes another way.
        let last = try #require(token.last)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let value = try #require(alphabet.firstIndex(of: last))
        let respelled = String(token.dropLast()) + String(alphabet[value ^ 1])
        #expect(Data(base64URLEncoded: String(respelled.split(separator: ".")[3])) == Data(base64URLEncoded: String(token.split(separator: ".")[3])))
        let error = try #require(throws: HushError.self) { try signer.verify(respelled) }
        #expect(error.field == "token")
    }

    @Test func aRetiredKeysLinksHaveExpired() throws {
        let old = LinkKey.generate()
        let token = try LinkSigner(keys: [old]).sign(claims)
        var retired = old
        retired.retired = true
        let signer = try LinkSigner(keys: [LinkKey.generate(), retired])
        let error = try #require(throws: HushError.self) { try signer.verify(token) }
        #expect(error.code == .expired)
    }

    @Test func rotatedKeysKeepOldLinksWorking() throws {
        let old = LinkKey.generate()
        let token = try LinkSigner(keys: [old]).sign(claims)
        let rotated = try LinkSigner(keys: [LinkKey.generate(), old])
        #expect(try rotated.verify(token).claims == claims)
        #expect(rotated.sign(claims) != token)
    }

    @Test func formTokensAreBoundToTheirLink() throws {
        let signer = try LinkSigner(keys: [LinkKey.generate()])
        let form = signer.formToken(for: "link-one")
        #expect(signer.isValidFormToken(form, for: "link-one"))
        #expect(!signer.isValidFormToken(form, for: "link-two"))
        #expect(!signer.isValidFormToken("forged", for: "link-one"))
    }
}
