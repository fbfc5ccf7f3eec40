import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

@Suite(.everyBackend) struct ConsoleTests {
    static let password = "correct horse battery"

    @discardableResult
    static func user(_ client: any TestClientProtocol, _ server: TestServer, _ email: String, role: String = "admin", password: String = password) async throws -> Int {
        let (status, json, _) = try await client.send(.post, "/v1/users", key: server.admin, json: #"{"email": "\#(email)", "role": "\#(role)", "password": "\#(password)"}"#)
        #expect(status == .created, "\(json)")
        return json["id"] as? Int ?? 0
    }

    @Test func adminsManageUsersThroughTheAPIAndTheRulesNameTheField() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let (created, user, _) = try await client.send(.post, "/v1/users", key: server.admin, json: #"{"email": " Ann@Example.COM ", "role": "member"}"#)
            #expect(created == .created)
            #expect(user["email"] as? String == "ann@example.com")
            let generated = try #require(user["password"] as? String)
            #expect(generated.count >= 24, "a generated password is shown once")
            #expect(try await ConsoleSession.signIn(client, "ann@example.com", generated).session != nil)

            let (listed, users, _) = try await client.send(.get, "/v1/users", key: server.admin)
            #expect(listed == .ok)
            let first = try #require((users["users"] as? [[String: Any]])?.first)
            #expect(first["password"] == nil && first["last_sign_in_at"] as? String != nil, "never a password; the sign-in is noted")

            for (body, field, status) in [
                (#"{"email": "ann@example.com", "role": "admin"}"#, "email", HTTPResponse.Status.conflict),
                (#"{"email": "bob@example.com", "role": "inbound"}"#, "role", .badRequest),
                (#"{"email": "bob@example.com", "role": "admin", "password": "short"}"#, "password", .badRequest),
                (#"{"email": "not an email", "role": "admin"}"#, "email", .badRequest),
                (#"{"email": "bob@example.com", "role": "admin", "password": "\#(String(repeating: "é", count: 40))"}"#, "password", .badRequest),
            ] {
                let (refused, problem, _) = try await client.send(.post, "/v1/users", key: server.admin, json: body)
                #expect(refused == status, "\(body)")
                #expect(((problem["errors"] as? [[String: Any]])?.first?["field"] as? String) == field, "\(problem)")
            }
            #expect(try await client.send(.post, "/v1/users", key: server.member, json: #"{"email": "eve@example.com", "role": "admin"}"#).status == .forbidden)
            #expect(try await client.send(.get, "/v1/users", key: server.member).status == .forbidden)
            // Another organization's admin sees none of them and disables none.
            let id = try #require(user["id"] as? Int)
            #expect(try await client.send(.delete, "/v1/users/\(id)", key: server.otherAdmin).status == .notFound)
            #expect(((try await client.send(.get, "/v1/users", key: server.otherAdmin).json["users"]) as? [Any])?.isEmpty == true)
        }
    }

    @Test func signingInOutAndDisablingEndSessionsEverywhere() async throws {
        let clock = TestClock.flowing()
        var configuration = ServerConfiguration(publicURL: "https://hush.example.com")
        configuration.consoleIdleTimeout = .seconds(3_600)
        let server = try await TestServer(configuration: configuration, clock: clock)
        try await server.test { client in
            let id = try await Self.user(client, server, "ann@example.com")
            #expect(try await client.execute(uri: "/", method: .get) { $0.headers[.location] } == "/console/login")
            #expect(try await client.execute(uri: "/console/lists", method: .get) { $0.headers[.location] } == "/console/login")

            let wrong = try await ConsoleSession.signIn(client, "ann@example.com", "wrong password!")
            #expect(wrong.session == nil && wrong.status == .unauthorized)
            let unknown = try await ConsoleSession.signIn(client, "nobody@example.com", Self.password)
            #expect(unknown.session == nil && unknown.status == .unauthorized, "an unknown email answers as a wrong password does")

            let page = try await ConsoleSession.signInPage(client)
            #expect(page.token.count >= 40)
            let cookie = try await client.execute(
                uri: "/console/login", method: .post, headers: page.headers,
                body: ByteBuffer(string: "_csrf=\(page.token)&email=ann%40example.com&password=correct+horse+battery")
            ) { $0.headers[values: .setCookie].first { $0.hasPrefix("hush_session=") } ?? "" }
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Secure"), "\(cookie)")

            // The sign-in form's token: without it, with another page's, or without its cookie
            // (a form posted from another site), the sign-in is refused and no session made.
            let other = try await ConsoleSession.signInPage(client)
            let withoutCookie: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            for (headers, token) in [(page.headers, ""), (page.headers, other.token), (withoutCookie, page.token)] {
                let refused = try await client.execute(
                    uri: "/console/login", method: .post, headers: headers,
                    body: ByteBuffer(string: "_csrf=\(token)&email=ann%40example.com&password=correct+horse+battery")
                ) { ($0.status, $0.headers[values: .setCookie].contains { $0.hasPrefix("hush_session=") }) }
                #expect(refused.0 == .forbidden && !refused.1, "token \(token.prefix(6)), headers \(headers)")
            }
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)
            #expect(try await session.get("/console").status == .ok)
            #expect(try await session.get("/").location == "/console")

            // Idle past the timeout: signed out. Use moves the expiry on.
            clock.advance(by: 3_000)
            #expect(try await session.get("/console").status == .ok)
            clock.advance(by: 3_000)
            #expect(try await session.get("/console").status == .ok, "the visit before moved the expiry on")
            clock.advance(by: 3_700)
            #expect(try await session.get("/console").location == "/console/login", "an idle session ends")

            let again = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)
            let token = try await again.token()
            #expect(try await again.post("/console/logout", [], token: token).location == "/console/login?notice=signed_out")
            #expect(try await again.get("/console").location == "/console/login", "signed out means the session is gone")

            let third = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)
            #expect(try await client.send(.delete, "/v1/users/\(id)", key: server.admin).status == .noContent)
            #expect(try await third.get("/console").location == "/console/login", "disabling a user ends its sessions")
            #expect(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session == nil)
            #expect(try await client.send(.delete, "/v1/users/\(id)", key: server.admin).status == .notFound)
        }
    }

    @Test func thePrunerRemovesExpiredSessions() async throws {
        let clock = TestClock.flowing()
        let server = try await TestServer(clock: clock)
        try await server.test { client in
            try await Self.user(client, server, "ann@example.com")
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)
            let token = SessionToken(secret: String(session.cookie.dropFirst("hush_session=".count)))
            #expect(try await server.store.session(tokenHash: token.hash, at: clock.read()) != nil)
            let pruner = HistoryPruner(
                store: server.store, webhookRetention: .seconds(86_400), sendRetention: .seconds(86_400), logger: .init(label: "test"), now: clock.read)
            await pruner.prune(now: clock.read())
            #expect(try await server.store.session(tokenHash: token.hash, at: clock.read()) != nil, "a live session stays")
            clock.advance(by: ConsoleAccounts.defaultIdleTimeout.seconds + 1)
            await pruner.prune(now: clock.read())
            #expect(try await server.store.pruneSessions(expiredBefore: clock.read()) == 0, "the expired session was already removed")
            #expect(try await session.get("/console").location == "/console/login")
        }
    }

    @Test func failedSignInsAreLimitedPerEmail() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await Self.user(client, server, "ann@example.com")
            for _ in 0..<10 { _ = try await ConsoleSession.signIn(client, "ann@example.com", "not the password") }
            let limited = try await ConsoleSession.signIn(client, "ann@example.com", Self.password)
            #expect(limited.session == nil && limited.status == .tooManyRequests, "even the right password waits once the limit is reached")
            try await Self.user(client, server, "bob@example.com")
            #expect(try await ConsoleSession.signIn(client, "bob@example.com", Self.password).session != nil, "another email is not held up")
        }
    }

    @Test func formsNeedTheSessionsTokenAndTheConsolesOrigin() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await Self.user(client, server, "ann@example.com")
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)
            let other = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)
            let form = [("channels", "email"), ("list", "\(server.acme.defaultList.rawValue)")]
            #expect(try await session.post("/console/people/ann%40example.com/opt-out", form, token: "forged").status == .forbidden)
            #expect(try await session.post("/console/people/ann%40example.com/opt-out", form, token: try await other.token()).status == .forbidden,
                    "another session's token does not pass")
            #expect(try await session.post("/console/people/ann%40example.com/opt-out", form, origin: "https://evil.example").status == .forbidden)
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email") == true, "nothing was recorded")
            let done = try await session.post("/console/people/ann%40example.com/opt-out", form)
            #expect(done.status == .seeOther, "\(done.html)")
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email") == false)
            let event = try #require(try await client.events(server).last)
            #expect(event["actor"] as? String == "user:1" && event["source"] as? String == "rep", "the ledger names the console user")
        }
    }

    /// A person's key is an address when the API reads it as one in the organization's region
    /// (`030/12345678` in Germany), and a contact's id when a contact has it: the console's own
    /// rule once took the number for a contact nobody was linked to, and a numeric contact id
    /// for a stranger's number.
    @Test func aPersonsKeyIsReadAsTheAPIReadsIt() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"default_region": "DE"}"#)
            try await client.send(.put, "/v1/contacts/4930123456789", key: server.admin, json: #"{"emails": ["max@example.com"]}"#)
            try await Self.user(client, server, "ann@example.com")
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)
            let form = [("channels", "all"), ("list", "\(server.acme.defaultList.rawValue)")]
            #expect(try await session.post("/console/people/030%2F12345678/opt-out", form).status == .seeOther)
            #expect(try await client.allowed(server, "address=%2B493012345678&channel=sms") == false)
            #expect(try await session.post("/console/people/4930123456789/opt-out", form).status == .seeOther)
            #expect(try await client.allowed(server, "address=max@example.com&channel=email") == false, "the contact's address")
            #expect(try await client.allowed(server, "address=%2B4930123456789&channel=sms") == true, "not a stranger's number")
        }
    }

    @Test func membersSeeNoAdminControlsAndTheAPIRefusesThemAnyway() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "ann@example.com", "channel": "email"}"#)
            try await Self.user(client, server, "rep@example.com", role: "member")
            let member = try #require(try await ConsoleSession.signIn(client, "rep@example.com", Self.password).session)
            let person = try await member.get("/console/people/ann%40example.com")
            #expect(person.status == .ok)
            #expect(person.html.contains("/request-opt-in") && !person.html.contains("/opt-in\""), "a member may ask, not lift")
            #expect(!person.html.contains("/erase"))
            let settings = try await member.get("/console/settings").html
            #expect(!settings.contains("Create key") && !settings.contains("Add user"))
            #expect(!(try await member.get("/console").html.contains("/console/connectors")))

            let lifted = try await member.post("/console/people/ann%40example.com/opt-in", [("channel", "email"), ("kind", "written_consent"), ("reference", "x")])
            #expect(lifted.status == .forbidden, "the API refuses a member's opt-in, whatever the page showed")
            #expect(try await member.post("/console/settings/keys", [("role", "admin")]).status == .forbidden)
            #expect(try await member.post("/console/settings/users", [("email", "eve@example.com"), ("role", "admin")]).status == .forbidden)
            #expect(try await member.get("/console/connectors").status == .forbidden)
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email") == false)
        }
    }

    @Test func statsCountWhatEachWriteDidInItsOwnTransaction() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"addresses": ["a@example.com", "b@example.com"], "channel": "email"}"#)
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "+14155550100", "channel": "sms", "source": "rep"}"#)
            try await client.send(.post, "/v1/opt-ins", key: server.admin, json: #"""
                {"address": "a@example.com", "channel": "email", "evidence": {"kind": "written_consent", "reference": "t-1"}}
                """#)
            let stats = try await client.send(.get, "/v1/stats?days=7", key: server.member).json
            let outs = try #require(stats["opt_outs"] as? [[String: Any]])
            #expect(outs.map { "\($0["channel"]!)/\($0["source"]!)=\($0["count"]!)" }.sorted() == ["email/api=2", "sms/rep=1"])
            #expect((stats["opt_ins"] as? [[String: Any]])?.first?["count"] as? Int == 1)
            let counts = try #require(stats["suppressions"] as? [[String: Any]])
            #expect(counts.map { "\($0["list_name"]!)/\($0["channel"]!)=\($0["count"]!)" }.sorted() == ["default/email=1", "default/sms=1"])
            #expect(try await client.send(.get, "/v1/stats?days=0", key: server.admin).status == .badRequest)

            // Another node on the database sees the same counts: they are the database's.
            let node = try await server.anotherNode(loadsIndex: false)
            #expect(try await node.suppressionCounts(in: server.acme.id).map(\.suppressions).reduce(0, +) == 2)
            try await node.close()
        }
    }

    @Test func guessesSentAtOnceAreLimitedToo() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await Self.user(client, server, "ann@example.com")
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<20 { group.addTask { try await ConsoleSession.signIn(client, "ann@example.com", "a wrong password").status } }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .unauthorized }.count == 10 && statuses.filter { $0 == .tooManyRequests }.count == 10, "\(statuses)")
        }
    }

    @Test func aDeadDeliveryIsRetriedFromTheWebhookPage() async throws {
        let server = try await WebhookTests.server(WebhookTests.settings(delays: [60]))
        let receiver = try await WebhookReceiver.start { _, _ in .init(status: 500) }
        try await server.test { client in
            let (id, _) = try await WebhookTests.endpoint(client, server, url: receiver.url)
            try await Self.user(client, server, "ann@example.com")
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)
            try await WebhookTests.sending(server) {
                try await WebhookTests.optOut(client, server, "dead@example.com")
                await receiver.waitFor(1)
                _ = try await WebhookTests.attempted(client, server, id, 1)
                let retrying = try await session.get("/console").html
                #expect(retrying.contains("webhook retrying</span> <a href=\"/console/webhooks/\(id)\""), "the overview names a failing endpoint: \(retrying)")
                server.clock.advance(by: 60)
                await receiver.waitFor(2)
                var dead: [[String: Any]] = []
                _ = try await eventually {
                    dead = try await client.send(.get, "/v1/webhooks/\(id)/deliveries?status=dead", key: server.admin).json["deliveries"] as? [[String: Any]] ?? []
                    return !dead.isEmpty
                }
                let delivery = try #require(dead.first?["id"] as? Int)
                #expect(try await session.get("/console").html.contains("webhook dead deliveries</span>"))
                let page = try await session.get("/console/webhooks/\(id)?status=dead").html
                #expect(page.contains("/console/deliveries/\(delivery)/retry") && page.contains(">dead<"), "\(page)")
                await receiver.respond { _, _ in .init() }
                let retried = try await session.post("/console/deliveries/\(delivery)/retry", [("webhook", "\(id)")])
                #expect(retried.location == "/console/webhooks/\(id)?notice=retried")
                #expect(await receiver.waitFor(3).count == 3, "the retried delivery was sent again")
                #expect(try await eventually { try await session.get("/console").html.contains("Every webhook and connector is working") })
            }
        }
        await receiver.stop()
    }

    @Test func keysMadeThroughTheAPIWorkAndAreShownOnce() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let (created, key, _) = try await client.send(.post, "/v1/keys", key: server.admin, json: #"{"role": "member"}"#)
            #expect(created == .created)
            let secret = try #require(key["key"] as? String)
            #expect(try await client.send(.get, "/v1/check?address=a@example.com&channel=email", key: secret).status == .ok)
            let listed = try await client.send(.get, "/v1/keys", key: server.admin).json["keys"] as? [[String: Any]] ?? []
            #expect(listed.allSatisfy { $0["key"] == nil })
            #expect(try await client.send(.post, "/v1/keys", key: server.member, json: #"{"role": "admin"}"#).status == .forbidden)
            let bad = try await client.send(.post, "/v1/keys", key: server.admin, json: #"{"role": "root"}"#)
            #expect(bad.status == .badRequest && ((bad.json["errors"] as? [[String: Any]])?.first?["field"] as? String) == "role")
        }
    }
}
