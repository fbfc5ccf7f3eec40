import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// Two nodes' link services on one database, each with its own copy of the keys.
@Suite(.everyBackend) struct LinkServiceTests {
    /// A form rendered by a node that already signs with a newly rotated key, posted to a node
    /// that has not read the key yet, is accepted: that node reads the keys again.
    @Test func aFormRenderedWithANewKeyIsAcceptedByANodeThatHasNotReadIt() async throws {
        let server = try await TestServer()
        let stale = LinkService(store: server.store, configuration: server.configuration)
        let token = try await stale.sign(LinkClaims(
            purpose: .unsubscribe, organization: server.acme.id.rawValue, address: "ann@example.com", contact: nil, channel: "email",
            scope: "", list: nil, campaign: nil, issuedAt: 1_700_000_000))
        let tokenID = try await stale.verify(token).tokenID
        _ = try await server.store.rotateLinkKey()
        let fresh = LinkService(store: server.store, configuration: server.configuration)
        let form = try await fresh.formToken(for: tokenID)
        #expect(try await !stale.currentSigner().isValidFormToken(form, for: tokenID), "the stale node signs with the old key")
        // Keys are read again at most once a second after a miss: the wait is for that, capped
        // below the minute after which a node reads them again anyway.
        let accepted = try await eventually(limit: .seconds(30)) { try await stale.isValidFormToken(form, for: tokenID) }
        #expect(accepted)
    }
}
