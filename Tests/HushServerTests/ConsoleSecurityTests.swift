import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// Every form the console shows, refused without the session's own token; the headers every
/// console page carries; and no stored secret on any page.
@Suite(.everyBackend) struct ConsoleSecurityTests {
    /// What an organization with one of everything holds; the secrets made through the API.
    struct Seeded {
        var pages: [String]
        var secrets: [String]
    }

    static func seed(_ client: any TestClientProtocol, _ server: TestServer) async throws -> Seeded {
        try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"addresses": ["old@example.com", "+14155550100"], "channel": "all"}"#)
        let list = try #require(try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Newsletter"}"#).json["id"] as? Int)
        try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"addresses": ["bob@example.com"], "channel": "email", "list": \#(list)}"#)
        let send = try #require(try await client.send(.post, "/v1/sends", key: server.admin, json: #"{"name": "Spring", "channel": "email", "recipients": ["old@example.com", "new@example.com"]}"#).json["id"] as? Int)
        try await client.send(.post, "/v1/inbound", key: server.inbound, json: #"{"channel": "sms", "from": "+14155550123", "to": "+14155550999", "body": "please stop texting me after today"}"#)
        let hook = try await client.send(.post, "/v1/webhooks", key: server.admin, json: #"{"url": "http://127.0.0.1:9/hooks", "events": ["opt_out.created"]}"#).json
        #expect(try await client.send(.post, "/v1/rulesets", key: server.admin, json: #"{"name": "Outbound", "on_opt_out": "skip_steps"}"#).status == .created)
        let trigger = try #require(try await client.send(.post, "/v1/triggers", key: server.admin, json: #"{"on": "call.logged", "when": {"disposition": "Do Not Call"}, "then": {"opt_out": {"channels": ["voice"]}}}"#).json["id"] as? Int)
        let connectorSecret = "connector-client-secret-\(UUID().uuidString)"
        let connector = try #require(try await client.send(.post, "/v1/connectors", key: server.admin, json: """
            {"name": "dyn", "provider": "dynamics", "instance_url": "http://127.0.0.1:9", "auth": {"tenant": "t", "client_id": "c", "client_secret": "\(connectorSecret)"}, "mode": "shared_field"}
            """).json["id"] as? Int)
        let twilio = "0123456789abcdef0123456789abcdef"
        try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"twilio_auth_token": "\#(twilio)"}"#)
        let key = try #require(try await client.send(.post, "/v1/keys", key: server.admin, json: #"{"role": "member"}"#).json["key"] as? String)
        try await ConsoleTests.user(client, server, "rep@example.com", role: "member")
        let pages = ConsoleBrowserTests.pages.map(\.1) + [
            "/console?days=90", "/console/lists/\(list)", "/console/people/old%40example.com", "/console/people/old%40example.com/erase",
            "/console/sends/\(send)", "/console/webhooks/\(try #require(hook["id"] as? Int))", "/console/sequences/triggers/\(trigger)",
            "/console/connectors/\(connector)",
        ]
        return Seeded(pages: pages, secrets: [try #require(hook["secret"] as? String), connectorSecret, twilio, key, server.admin, server.member])
    }

    /// Every form on every page, posted without a token and with another session's: refused
    /// (403) before it acts, and nothing the organization holds changed.
    @Test func everyFormRefusesAMissingOrForeignToken() async throws {
        let server = try await TestServer(configuration: ConsoleBrowserTests.configuration())
        try await server.test { client in
            let seeded = try await Self.seed(client, server)
            try await ConsoleTests.user(client, server, "ann@example.com")
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", ConsoleTests.password).session)
            let other = try #require(try await ConsoleSession.signIn(client, "ann@example.com", ConsoleTests.password).session)
            let foreign = try await other.token()

            var actions: Set<String> = []
            for path in seeded.pages {
                let page = try await session.get(path)
                #expect(page.status == .ok, "\(path)")
                actions.formUnion(Self.postedForms(page.html))
            }
            #expect(actions.count >= 40, "the pages show \(actions.count) forms: \(actions.sorted())")
            let before = try await Self.holdings(client, server)
            for action in actions.sorted() {
                let withoutToken = try await Self.post(client, session, action, token: nil)
                #expect(withoutToken == .forbidden, "\(action) without a token answered \(withoutToken)")
                #expect(try await session.post(action, [], token: foreign).status == .forbidden, "\(action) with another session's token")
            }
            let after = try await Self.holdings(client, server)
            for (was, now) in zip(before, after) where was != now {
                Issue.record("a refused form changed \(was.prefix(60)): \(was) became \(now)")
            }
            #expect(try await session.get("/console").status == .ok, "the session itself still works")
        }
    }

    /// The actions of the page's forms that post (a button's `formaction` too).
    static func postedForms(_ html: String) -> Set<String> {
        var actions: Set<String> = []
        var rest = Substring(html)
        while let start = rest.range(of: "<form") {
            let tag = rest[start.lowerBound...].prefix { $0 != ">" }
            if tag.contains(#"method="post""#), let action = attribute("action", in: tag) { actions.insert(action) }
            rest = rest[start.upperBound...]
        }
        rest = Substring(html)
        while let start = rest.range(of: "formaction=") {
            let tag = rest[..<start.lowerBound].suffix(400).split(separator: "<").last.map { "<" + $0 } ?? ""
            let whole = tag + rest[start.lowerBound...].prefix { $0 != ">" }
            if !whole.contains(#"formmethod="get""#), let action = attribute("formaction", in: Substring(whole)) { actions.insert(action) }
            rest = rest[start.upperBound...]
        }
        return actions
    }

    private static func attribute(_ name: String, in tag: Substring) -> String? {
        guard let range = tag.range(of: " \(name)=\"") else { return nil }
        return String(tag[range.upperBound...].prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
    }

    /// A form post with the session's cookie and no `_csrf` field at all.
    private static func post(_ client: any TestClientProtocol, _ session: ConsoleSession, _ action: String, token: String?) async throws -> HTTPResponse.Status {
        try await client.execute(
            uri: action, method: .post, headers: [.cookie: session.cookie, .contentType: "application/x-www-form-urlencoded"],
            body: ByteBuffer(string: "confirm=old%40example.com&kind=written_consent&reference=x&channels=email&name=x")
        ) { $0.status }
    }

    /// What a refused post could have changed, as the API reads it.
    private static func holdings(_ client: any TestClientProtocol, _ server: TestServer) async throws -> [String] {
        var parts: [String] = []
        // A connector's answer carries its lag, which moves with the clock: its settings are compared.
        let connectors = try await client.send(.get, "/v1/connectors", key: server.admin).json["connectors"] as? [[String: Any]] ?? []
        parts.append("connectors " + connectors.map { "\($0["id"] ?? "") \($0["name"] ?? "") \($0["enabled"] ?? "") \($0["mode"] ?? "")" }.joined(separator: ", "))
        for path in ["/v1/events?limit=1000", "/v1/lists", "/v1/webhooks", "/v1/rulesets", "/v1/triggers", "/v1/keys", "/v1/users",
                     "/v1/settings", "/v1/review", "/v1/scopes", "/v1/sends"] {
            parts.append(try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(server.admin)"]) {
                "\(path) \($0.status) \(String(buffer: $0.body))"
            })
        }
        return parts
    }

    /// The console's pages carry what the public pages carry against framing, sniffing, caching
    /// and injection; the referrer stays within the console (see `ConsoleView.html`).
    @Test func consolePagesCarryThePublicPagesSecurityHeaders() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await ConsoleTests.user(client, server, "ann@example.com")
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", ConsoleTests.password).session)
            let path = try await client.unsubscribePath(server, #"{"address": "ann@example.com", "channel": "email"}"#)
            let publicHeaders = try await client.execute(uri: path, method: .get) { $0.headers }
            for page in ["/console/login", "/console", "/console/settings"] {
                let cookie: HTTPFields = page == "/console/login" ? [:] : [.cookie: session.cookie]
                let headers = try await client.execute(uri: page, method: .get, headers: cookie) { $0.headers }
                for name in [HTTPField.Name.cacheControl, .xFrameOptions, HTTPField.Name("X-Content-Type-Options")!] {
                    #expect(headers[name] != nil && headers[name] == publicHeaders[name], "\(page): \(name)")
                }
                #expect(headers[.referrerPolicy] == "same-origin" && publicHeaders[.referrerPolicy] == "no-referrer", "\(page)")
                let policy = headers[.contentSecurityPolicy] ?? ""
                for directive in ["default-src 'none'", "form-action 'self'", "frame-ancestors 'none'"] {
                    #expect(policy.contains(directive), "\(page): \(directive) in \(policy)")
                }
                #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "\(page): \(policy)")
            }
        }
    }

    /// Secrets stored through the API (a webhook's signing secret, a connector's client secret,
    /// the Twilio token, API keys) appear on no page, for an admin or a member.
    @Test func noPageShowsAStoredSecret() async throws {
        let server = try await TestServer(configuration: ConsoleBrowserTests.configuration())
        try await server.test { client in
            let seeded = try await Self.seed(client, server)
            try await ConsoleTests.user(client, server, "ann@example.com")
            for email in ["ann@example.com", "rep@example.com"] {
                let session = try #require(try await ConsoleSession.signIn(client, email, ConsoleTests.password).session)
                for path in seeded.pages {
                    let html = try await session.get(path).html
                    for secret in seeded.secrets {
                        #expect(!html.contains(secret), "\(email) sees a secret on \(path)")
                    }
                    // A key's prefix may be shown to tell keys apart; its secret part never.
                    #expect(!html.contains(String(seeded.secrets[3].dropFirst(APIKey.prefix.count + 6).prefix(16))), "\(path)")
                }
            }
        }
    }
}
