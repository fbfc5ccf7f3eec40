import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// The review's medium and low findings, each tried as an attacker would.
@Suite(.everyBackend) struct HardeningTests {
    private func field(_ answer: (status: HTTPResponse.Status, json: [String: Any], contentType: String?)) -> String? {
        (answer.json["errors"] as? [[String: Any]])?.first?["field"] as? String
    }

    @Test func oneClickAlwaysRecordsEvenWhenTheLinksListIsGone() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let list = try #require(try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Promos"}"#).json["id"] as? Int)
            let path = try await client.unsubscribePath(server, #"{"address": "ann@example.com", "channel": "email", "list": "Promos"}"#)
            #expect(try await client.send(.delete, "/v1/lists/\(list)", key: server.admin).status == .noContent)
            #expect(try await client.page(.post, path, form: "List-Unsubscribe=One-Click").status == .ok)
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email") == false, "recorded on default")
            let evidence = try #require(try await client.events(server).last?["evidence"] as? [String: Any])
            #expect(evidence["link_list"] as? Int == list)
            #expect((evidence["recorded_on"] as? String)?.hasPrefix("default") == true)
        }
    }

    @Test func oneClickIsLimitedPerLinkNotPerIP() async throws {
        let server = try await TestServer(configuration: ServerConfiguration(publicRequestsPerMinute: 2))
        try await server.test { client in
            var paths: [String] = []
            for index in 0..<4 {
                paths.append(try await client.unsubscribePath(server, #"{"address": "p\#(index)@example.com", "channel": "email"}"#))
            }
            // Four people behind one mail provider's address: none is refused.
            for path in paths {
                #expect(try await client.page(.post, path, form: "List-Unsubscribe=One-Click").status == .ok)
            }
            #expect(try await client.page(.post, paths[0], form: "List-Unsubscribe=One-Click").status == .ok)
            #expect(try await client.page(.post, paths[0], form: "List-Unsubscribe=One-Click").status == .tooManyRequests, "one link's own limit")
        }
    }

    @Test func madeUpLinksCountAgainstTheIP() async throws {
        let server = try await TestServer(configuration: ServerConfiguration(publicRequestsPerMinute: 2))
        try await server.test { client in
            let statuses = try await (0..<3).asyncMap { index in
                try await client.page(.post, "/u/v1.nokey.e30.made-up-\(index)", form: "List-Unsubscribe=One-Click").status
            }
            #expect(statuses == [.badRequest, .badRequest, .tooManyRequests])
        }
    }

    @Test func sendBodiesRefuseRepeatedRecipientFieldsAndControlCharacters() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let twice = try await client.send(.post, "/v1/sends", key: server.member, json: #"{"channel": "email", "recipients": [{"address": "a@example.com", "address": "b@example.com"}]}"#)
            #expect(twice.status == .badRequest)
            #expect(field(twice) == "recipients[0].address")
            let control = try await client.send(.post, "/v1/sends", key: server.member, json: #"{"channel": "email", "recipients": [{"address": "a@example.com", "ref": "r\u0000x"}]}"#)
            #expect(field(control) == "recipients[0].ref")
            let name = try await client.send(.post, "/v1/sends", key: server.member, json: #"{"name": "a\u0007", "channel": "email", "recipients": ["a@example.com"]}"#)
            #expect(field(name) == "name")
            #expect((try await client.send(.get, "/v1/sends", key: server.member).json["sends"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func theClientAddressComesFromForwardedHeadersOnlyBehindATrustedProxy() async throws {
        var configuration = ServerConfiguration()
        configuration.trustedProxies = try TrustedProxies(parsing: "127.0.0.0/8,::1,10.0.0.0/8")
        let trusted = try await TestServer(configuration: configuration)
        // Over a real socket, so the peer is loopback: the proxy here.
        try await trusted.live { port in try await trusted.test { client in
            let path = try await client.unsubscribePath(trusted, #"{"address": "ann@example.com", "channel": "email"}"#)
            try await Self.oneClick(port: port, path, forwardedFor: "203.0.113.9, 10.0.0.2")
            let evidence = try #require(try await client.events(trusted).last?["evidence"] as? [String: Any])
            #expect(evidence["ip"] as? String == "203.0.113.9")
        } }
        let untrusted = try await TestServer()
        try await untrusted.live { port in try await untrusted.test { client in
            let path = try await client.unsubscribePath(untrusted, #"{"address": "ann@example.com", "channel": "email"}"#)
            try await Self.oneClick(port: port, path, forwardedFor: "203.0.113.9")
            let evidence = try #require(try await client.events(untrusted).last?["evidence"] as? [String: Any])
            #expect(evidence["ip"] as? String == "127.0.0.1", "a header alone is not believed")
        } }
    }

    /// A one-click unsubscribe over loopback, with `X-Forwarded-For`.
    static func oneClick(port: Int, _ path: String, forwardedFor: String) async throws {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "x-forwarded-for", value: forwardedFor)
        request.body = .bytes(ByteBuffer(string: "List-Unsubscribe=One-Click"))
        let response = try await HTTPClient.shared.execute(request, timeout: .minutes(10))
        #expect(response.status == .ok)
    }

    @Test func controlCharactersAndDuplicateKeysAreRefusedByField() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let nul = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"contact": "c1\u0000zzz", "channel": "email"}"#)
            #expect(nul.status == .badRequest)
            #expect(field(nul) == "contact")
            let nested = try await client.send(.post, "/v1/lists/1/entries", key: server.member, json: #"{"entries": [{"address": "a@example.com", "channel": "email"}, {"address": "b@example.com\u001b", "channel": "email"}]}"#)
            #expect(field(nested) == "entries[1].address")
            let twice = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "a@example.com", "channel": "email", "channel": "sms"}"#)
            #expect(twice.status == .badRequest)
            #expect(field(twice) == "channel")
            // The same key spelled with an escape is the same key (the decoder reads it so).
            let escaped = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "a@example.com", "channel": "email", "ch\u0061nnel": "sms"}"#)
            #expect(escaped.status == .badRequest)
            #expect(field(escaped) == "channel")
            let lists = try await client.send(.post, "/v1/check", key: server.member, json: #"{"addresses": ["a@example.com"], "channel": "email", "lists": ["default"], "li\u0073ts": []}"#)
            #expect(lists.status == .badRequest)
            #expect(field(lists) == "lists")
            let described = try await client.send(.post, "/v1/lists", key: server.member, json: #"{"name": "Digest", "description": "Weekly\nnews\tand more"}"#)
            #expect(described.status == .created, "tab and line feed are fine in free text")
            #expect(try await client.send(.post, "/v1/lists", key: server.member, json: #"{"name": "Di\ngest"}"#).status == .badRequest)
            for name in ["vip,gold", "2024"] {
                let refused = try await client.send(.post, "/v1/lists", key: server.member, json: #"{"name": "\#(name)"}"#)
                #expect(refused.status == .badRequest, "\(name)")
                #expect(field(refused) == "name")
            }
            #expect(try await client.allowed(server, "address=a@example.com&channel=email") == true, "nothing recorded")
        }
    }

    @Test func unknownFieldsAreRefusedAtEveryDepthOfATrigger() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let when = try await client.send(.post, "/v1/triggers", key: server.admin, json: #"{"on": "call.logged", "when": {"dispositon": "DNC"}, "then": {"opt_out": {}}}"#)
            #expect(when.status == .badRequest)
            #expect(field(when) == "when.dispositon")
            let then = try await client.send(.post, "/v1/triggers", key: server.admin, json: #"{"on": "call.logged", "when": {"disposition": "DNC"}, "then": {"opt_out": {"chanels": ["voice"]}}}"#)
            #expect(field(then) == "then.opt_out.chanels")
            let action = try await client.send(.post, "/v1/triggers", key: server.admin, json: #"{"on": "call.logged", "when": {"disposition": "DNC"}, "then": {"opt_ot": {}}}"#)
            #expect(field(action) == "then.opt_ot")
            #expect((try await client.send(.get, "/v1/triggers", key: server.admin).json["triggers"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func unknownFieldsAreRefusedInsideSettingsKeywordsAndSequenceAddresses() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let keywords = try await client.send(.patch, "/v1/settings", key: server.admin, json: """
                {"keywords": {"opt_out": ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"], "opt_in": ["START", "UNSTOP"],
                 "help": ["HELP"], "halp": ["INFO"]}}
                """)
            #expect(keywords.status == .badRequest)
            #expect(field(keywords) == "keywords.halp")
            try await client.send(.post, "/v1/rulesets", key: server.admin, json: #"{"name": "Skip", "on_opt_out": "skip_steps"}"#)
            let addresses = try await client.send(.post, "/v1/sequences/evaluate", key: server.member, json: """
                {"ruleset": "Skip", "enrolled_at": "2026-01-01T00:00:00Z", "addresses": {"emial": "ann@example.com"},
                 "steps": [{"id": "1", "channel": "email"}]}
                """)
            #expect(addresses.status == .badRequest)
            #expect(field(addresses) == "addresses.emial")
        }
    }

    @Test func aLiteralPlusInACheckQueryIsAPlus() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "+442079460958", "channel": "sms"}"#)
            #expect(try await client.allowed(server, "address=+442079460958&channel=sms") == false)
            #expect(try await client.allowed(server, "address=%2B44%2020%207946%200958&channel=sms") == false)
        }
    }

    @Test func pointInTimeChecksRefuseTrailingJunk() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let junk = try await client.send(.get, "/v1/check?address=a@example.com&channel=email&at=2026-01-31T12:00:00Zjunk", key: server.member)
            #expect(junk.status == .badRequest)
            #expect(field(junk) == "at")
            #expect(try await client.send(.get, "/v1/check?address=a@example.com&channel=email&at=2026-01-31T12:00:00.5%2B01:00", key: server.member).status == .ok)
        }
    }

    @Test func jsonAnswersAreNotSniffedAndBrandColoursAreASCII() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let answer = try await client.execute(uri: "/v1/lists", method: .get, headers: [.authorization: "Bearer \(server.member)"]) { $0.headers }
            #expect(answer[.xContentTypeOptions] == "nosniff")
            let problem = try await client.execute(uri: "/v1/lists", method: .get) { $0.headers }
            #expect(problem[.xContentTypeOptions] == "nosniff")
            let colour = try await client.send(.patch, "/v1/settings", key: server.admin, json: ##"{"brand_color": "#１２３４５６"}"##)
            #expect(colour.status == .badRequest)
            #expect(field(colour) == "brand_color")
        }
    }

    @Test func metricsCarryNoTenantNamesAndCanRequireAToken() async throws {
        var configuration = ServerConfiguration()
        configuration.metricsToken = "s3cret"
        let server = try await TestServer(configuration: configuration)
        try await server.test { client in
            _ = try await client.execute(uri: "/inbound/twilio/acme", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: "From=%2B1")) { $0.status }
            #expect(try await client.execute(uri: "/metrics", method: .get) { $0.status } == .unauthorized)
            #expect(try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer wrong"]) { $0.status } == .unauthorized)
            let text = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer s3cret"]) { String(buffer: $0.body) }
            #expect(text.contains("hush_checks_total"))
            #expect(!text.contains("acme"))
        }
    }

    @Test func databaseErrorsNeverReachTheClient() async throws {
        let error = HushError(.storage, "the database failed and nothing was applied", underlying: "SQLite error 13: database or disk is full - while executing `INSERT INTO ledger …`")
        let problem = ProblemMiddleware<HushRequestContext>.problem(for: error).quoting(requestID: "abc")
        let body = String(decoding: try JSONEncoder().encode(problem), as: UTF8.self)
        #expect(!body.contains("INSERT"))
        #expect(!body.contains("SQLite"))
        #expect(body.contains("abc"))
    }
}

extension Range<Int> {
    func asyncMap<T>(_ transform: (Int) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for index in self { results.append(try await transform(index)) }
        return results
    }
}
