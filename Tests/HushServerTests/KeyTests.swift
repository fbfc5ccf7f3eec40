import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
@testable import HushStore
import HushTestSupport
import Testing
@testable import HushServer

/// Keys: an admin sees and revokes them; a revoked key is refused by every server on the
/// database; failed authentication is counted.
@Suite(.everyBackend) struct KeyTests {
    @Test func anAdminListsKeysWithoutSecretsAndRevokesOne() async throws {
        let server = try await TestServer()
        try await server.test { client in
            #expect(try await client.send(.get, "/v1/keys", key: server.member).status == .forbidden)
            let listed = try await client.send(.get, "/v1/keys", key: server.admin)
            let keys = try #require(listed.json["keys"] as? [[String: Any]])
            #expect(keys.map { $0["role"] as? String } == ["admin", "member", "inbound"])
            #expect(keys.allSatisfy { ($0["prefix"] as? String)?.count == 11 })
            let body = try JSONSerialization.data(withJSONObject: listed.json)
            #expect(!String(decoding: body, as: UTF8.self).contains(server.member), "never the key")
            let memberID = try #require(keys[1]["id"] as? Int)

            #expect(try await client.send(.delete, "/v1/keys/\(memberID)", key: server.member).status == .forbidden)
            #expect(try await client.send(.delete, "/v1/keys/\(memberID)", key: server.otherAdmin).status == .notFound)
            #expect(try await client.send(.delete, "/v1/keys/\(memberID)", key: server.admin).status == .noContent)
            #expect(try await client.send(.delete, "/v1/keys/\(memberID)", key: server.admin).status == .notFound)
            let remaining = try await client.send(.get, "/v1/keys", key: server.admin).json["keys"] as? [[String: Any]]
            #expect(remaining?.count == 2)
        }
    }

    @Test func aRevokedKeyIsRefusedByAnotherServerOnTheDatabase() async throws {
        // The other server reads revocations on every request here (interval zero); by default
        // it reads them every half second.
        var configuration = ServerConfiguration(sendsWebhooks: false)
        configuration.keyRefreshInterval = .zero
        let server = try await TestServer(configuration: configuration)
        let second = try await server.anotherNode()
        let elsewhere = HushServer.application(store: second, configuration: configuration)
        try await elsewhere.test(.router) { other in
            #expect(try await other.send(.get, "/v1/lists", key: server.member).status == .ok, "known to the other server")
            try await server.test { client in
                let keys = try await client.send(.get, "/v1/keys", key: server.admin).json["keys"] as? [[String: Any]]
                let memberID = try #require(keys?.first { $0["role"] as? String == "member" }?["id"] as? Int)
                #expect(try await client.send(.delete, "/v1/keys/\(memberID)", key: server.admin).status == .noContent)
            }
            #expect(try await other.send(.get, "/v1/lists", key: server.member).status == .unauthorized)
        }
        try await second.close()
    }

    /// Revocations are followed by key, not by when they were stamped: a node whose clock runs
    /// five minutes ahead revokes a key, and a revocation made after it with the right clock is
    /// still seen by the other servers (following stamps, it fell behind the one ahead).
    @Test func aRevocationIsSeenWhateverTheRevokingNodesClock() async throws {
        var configuration = ServerConfiguration(sendsWebhooks: false)
        configuration.keyRefreshInterval = .zero
        let server = try await TestServer(configuration: configuration)
        let second = try await server.anotherNode()
        let ahead = TestClock.flowing()
        ahead.advance(by: 300)
        let skewed = try await server.database.open(erasureKey: server.erasureKey, clock: ahead, loadsIndex: false)
        let elsewhere = HushServer.application(store: second, configuration: configuration)
        try await elsewhere.test(.router) { other in
            let (spare, info) = try await skewed.createKey(in: server.acme.id, role: .member)
            #expect(try await other.send(.get, "/v1/lists", key: spare.secret).status == .ok)
            #expect(try await other.send(.get, "/v1/lists", key: server.member).status == .ok)
            #expect(try await skewed.revokeKey(info.id, in: server.acme.id))
            #expect(try await other.send(.get, "/v1/lists", key: spare.secret).status == .unauthorized)
            try await server.test { client in
                let keys = try await client.send(.get, "/v1/keys", key: server.admin).json["keys"] as? [[String: Any]]
                let memberID = try #require(keys?.first { $0["role"] as? String == "member" && $0["id"] as? Int != Int(info.id) }?["id"] as? Int)
                #expect(try await client.send(.delete, "/v1/keys/\(memberID)", key: server.admin).status == .noContent)
            }
            #expect(try await other.send(.get, "/v1/lists", key: server.member).status == .unauthorized)
        }
        try await skewed.close()
        try await second.close()
    }

    @Test func failedAuthenticationIsCounted() async throws {
        let server = try await TestServer()
        try await server.test { client in
            #expect(try await client.send(.get, "/v1/lists", key: "hush_not-a-key").status == .unauthorized)
            #expect(try await client.send(.get, "/v1/lists", key: nil).status == .unauthorized)
            let metrics = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
            #expect(metrics.contains(#"hush_auth_failures_total{reason="unknown"} 1"#))
            #expect(metrics.contains(#"hush_auth_failures_total{reason="missing"} 1"#))
        }
    }

    @Test func erasureKeepsTheOptOutByItsHashAndIsIdempotent() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "email"}"#)
            try await client.send(.post, "/v1/sends", key: server.member, json: #"{"channel": "email", "recipients": ["ann@example.com", "bob@example.com"]}"#)
            #expect(try await client.send(.post, "/v1/erasures", key: server.member, json: #"{"address": "ann@example.com"}"#).status == .forbidden)
            let erased = try await client.send(.post, "/v1/erasures", key: server.admin, json: #"{"address": "Ann@Example.com"}"#)
            #expect(erased.status == .ok)
            #expect(erased.json["erased"] as? Bool == true)
            #expect(erased.json["suppressions"] as? Int == 1)
            let again = try await client.send(.post, "/v1/erasures", key: server.admin, json: #"{"address": "ann@example.com"}"#)
            #expect(again.json["erased"] as? Bool == false)
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email") == false)
            let shown = try await client.send(.get, "/v1/addresses/ann@example.com", key: server.admin)
            let suppressions = try #require(shown.json["suppressions"] as? [[String: Any]])
            #expect(suppressions.count == 1)
            #expect((suppressions.first?["address"] as? String)?.hasPrefix("erased:") == true)
            let sends = try await client.send(.get, "/v1/sends", key: server.admin).json["sends"] as? [[String: Any]]
            let sendID = try #require(sends?.first?["id"] as? Int)
            let report = try await client.execute(uri: "/v1/sends/\(sendID)/report.csv", method: .get, headers: [.authorization: "Bearer \(server.admin)"]) {
                String(buffer: $0.body)
            }
            #expect(!report.contains("ann@example.com"))
            #expect(report.contains("bob@example.com"))
        }
    }
}
