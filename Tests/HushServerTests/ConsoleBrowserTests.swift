import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// The console in a real headless Chromium: every page at 390 and 1280 px (screenshots under
/// `.build/screenshots/console/`), and each action done through the page, its effect checked
/// through the API.
@Suite(.serialized, .everyBackend) struct ConsoleBrowserTests {
    static let screenshots: URL = {
        let folder = BrowserTests.screenshots.appendingPathComponent("console")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }()

    static let pages = [
        ("overview", "/console", "Overview"), ("lists", "/console/lists", "New list"), ("people", "/console/people", "Address or contact id"),
        ("audience", "/console/audience", "Audience check"), ("sends", "/console/sends", "Sends"), ("review", "/console/review", "CRM fields unticked"),
        ("webhooks", "/console/webhooks", "New endpoint"), ("sequences", "/console/sequences", "Rulesets"),
        ("connectors", "/console/connectors", "Connect a CRM"), ("settings", "/console/settings", "Console users"),
    ]

    /// A console in Chromium, signed in through the login page.
    struct Console {
        let browser: Browser
        let base: String

        /// Whether the page comes to show `text` within `limit` (a ceiling, not a pace: the page is
        /// polled until it does); when it does not, what it showed is recorded.
        func see(_ text: String, limit: Duration = .seconds(60)) async throws -> Bool {
            if try await eventually(limit: limit, { try await browser.source().contains(text) }) { return true }
            let source = try await browser.source()
            let main = source.range(of: "<main").map { String(source[$0.lowerBound...].prefix(3000)) } ?? String(source.prefix(3000))
            Issue.record("the page does not show \"\(text)\"; it shows: \(main)")
            return false
        }

        func open(_ path: String) async throws {
            try await browser.open(base + path)
        }

        func shoot(_ name: String) async throws {
            for width in [390, 1280] {
                try await browser.resize(width: width, height: 1000)
                try await browser.screenshot(to: ConsoleBrowserTests.screenshots.appendingPathComponent("\(name)-\(width).png"))
            }
            try await browser.resize(width: 1280, height: 1000)
        }

        func signIn(_ email: String, _ password: String) async throws {
            try await open("/")
            #expect(try await see("Sign in to Hush"), "/ sends a browser that is not signed in to the login page")
            try await browser.type("input[name=email]", email)
            try await browser.type("input[name=password]", password)
            try await browser.click("main form button[type=submit]")
            #expect(try await see("Sign out"))
        }
    }

    /// Chromium on the live server (real HTTP), and a client through the router in process
    /// (the same store) to check what the pages did.
    static func withConsole(_ server: TestServer, _ body: @Sendable (Console, any TestClientProtocol) async throws -> Void) async throws {
        guard FileManager.default.isExecutableFile(atPath: Browser.driverPath) else {
            Issue.record("chromium and chromium-driver are not installed; .ci/run installs them")
            return
        }
        try await server.live { port in
            try await server.test { client in
                let browser = try await Browser()
                do {
                    try await body(Console(browser: browser, base: "http://127.0.0.1:\(port)"), client)
                } catch {
                    await browser.close()
                    throw error
                }
                await browser.close()
            }
        }
    }

    static func configuration() -> ServerConfiguration {
        ServerConfiguration(webhooks: WebhookSettings(allowPrivateTargets: true), sendsWebhooks: false)
    }

    @Test func everyPageLoadsAtBothWidthsAndListsAndPeopleWorkThroughThePage() async throws {
        let server = try await TestServer(configuration: Self.configuration())
        try await Self.withConsole(server) { console, client in
            try await ConsoleTests.user(client, server, "ann@example.com")
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"addresses": ["old@example.com", "+14155550100"], "channel": "all"}"#)
            try await console.signIn("ann@example.com", ConsoleTests.password)
            for (name, path, heading) in Self.pages {
                try await console.open(path)
                #expect(try await console.see(heading), "\(path) loads")
                try await console.shoot(name)
            }

            // Lists: create one, add an address and a pasted batch, remove one with consent.
            try await console.open("/console/lists")
            try await console.browser.type("input[name=name]", "Newsletter")
            try await console.browser.type("input[name=description]", "The monthly letter")
            try await console.browser.click("form[action='/console/lists'] button[type=submit]")
            #expect(try await console.see("Add an address"))
            let lists = try await client.send(.get, "/v1/lists", key: server.admin).json["lists"] as? [[String: Any]] ?? []
            let newsletter = try #require(lists.first { $0["name"] as? String == "Newsletter" }?["id"] as? Int)
            try await console.browser.type("input[name=address]", "bob@example.com")
            try await console.browser.click("form[action$='/add']:not([enctype]) button[type=submit]")
            #expect(try await console.see("Added 1 of 1"))
            try await console.browser.type("textarea[name=paste]", "carol@example.com\nbob@example.com\n")
            try await console.browser.click("form[enctype] select[name=channel] option[value=email]")
            try await console.browser.type("form[enctype] input[name=scope]", "brand")
            try await console.browser.click("form[enctype] button[type=submit]")
            // Warned first: who the list stops already is named, and nothing is written until a yes.
            #expect(try await console.see("1 of the 2 addresses are on this list already"), "the page warns first")
            #expect(try await console.see("<li>bob@example.com</li>"))
            #expect(try await client.allowed(server, "address=carol@example.com&channel=email&lists=\(newsletter)") == true, "nothing added before the yes")
            try await console.browser.click(".notice.warning form button[type=submit]")
            #expect(try await console.see("Added 1 of 1."))
            // The yes added what was asked: email, at brand.
            #expect(try await client.allowed(server, "address=carol@example.com&channel=email&scope=brand&lists=\(newsletter)") == false)
            #expect(try await client.allowed(server, "address=carol@example.com&channel=email&scope=other&lists=\(newsletter)") == true)
            #expect(try await client.allowed(server, "address=bob@example.com&channel=email&lists=\(newsletter)") == false)
            try await console.shoot("list")

            // A CSV too large for one post goes in batches, with progress (the console's script).
            let csv = FileManager.default.temporaryDirectory.appendingPathComponent("console-\(UUID().uuidString).csv")
            try (["email"] + (0..<12_000).map { "bulk\($0)@example.com" }).joined(separator: "\n").write(to: csv, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: csv) }
            try await console.browser.type("form[enctype] input[type=file]", csv.path)
            try await console.browser.click("form[enctype] button[type=submit]")
            // Twelve thousand opt-outs in two posts: on a machine busy with a build this took over
            // a minute, so the wait's ceiling is generous.
            #expect(try await console.see("12000 of 12000 sent; 12000 added", limit: .seconds(600)))
            let counted = try await client.send(.get, "/v1/stats?days=1", key: server.admin).json["suppressions"] as? [[String: Any]] ?? []
            #expect(counted.filter { $0["list"] as? Int == newsletter }.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == 12_002, "\(counted)")
            try await console.open("/console/lists/\(newsletter)")
            try await console.browser.click("input[name=entry][value^='bob@example.com|']")
            try await console.browser.type("input[name=kind]", "written_consent")
            try await console.browser.type("input[name=reference]", "ticket-7")
            try await console.browser.click("button.danger[type=submit]")
            #expect(try await console.see("Removed."))
            #expect(try await client.allowed(server, "address=bob@example.com&channel=email&lists=\(newsletter)") == true)
            try await console.browser.type("input[name=search]", "carol@example.com")
            try await console.browser.click("main form.inline button[type=submit]")
            // The results page (its search field holds the address), then what it shows.
            #expect(try await console.see(#"name="search" value="carol@example.com""#))
            #expect(try await console.see("value=\"carol@example.com|email|brand\""))
            #expect(!(try await console.browser.source().contains("bulk1@example.com")), "the search shows the one address")

            // A name the API refuses: its message beside the field, nothing created.
            try await console.open("/console/lists")
            try await console.browser.type("form[action='/console/lists'] input[name=name]", "1234")
            try await console.browser.click("form[action='/console/lists'] button[type=submit]")
            #expect(try await console.see(#"aria-invalid="true""#))
            #expect(try await console.see(#"<span class="error">"#))
            #expect((try await client.send(.get, "/v1/lists", key: server.admin).json["lists"] as? [[String: Any]])?.contains { $0["name"] as? String == "1234" } == false)

            // Edit the list; delete another.
            try await console.open("/console/lists/\(newsletter)")
            try await console.browser.type("form[action='/console/lists/\(newsletter)'] input[name=description]", " and offers")
            try await console.browser.click("form[method=post][action='/console/lists/\(newsletter)'] button[type=submit]")
            #expect(try await console.see("Saved."))
            #expect(try await client.send(.get, "/v1/lists/\(newsletter)", key: server.admin).json["description"] as? String == "The monthly letter and offers")
            let temporary = try #require(try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Temporary"}"#).json["id"] as? Int)
            try await console.open("/console/lists/\(temporary)")
            try await console.browser.click("form[action$='/delete'] button")
            #expect(try await console.see("Deleted."))
            #expect(try await client.send(.get, "/v1/lists/\(temporary)", key: server.admin).status == .notFound)

            // People: find, opt out of a channel, ask to opt back in, lift with consent, erase.
            try await console.open("/console/people")
            try await console.browser.type("input[name=q]", "dave@example.com")
            try await console.browser.click("main form button[type=submit]")
            #expect(try await console.see("no opt-outs"))
            try await console.browser.click("input[name=channels][value=email]")
            try await console.browser.type("input[name=reason]", "asked on a call")
            try await console.browser.click("form[action$='/opt-out'] button[type=submit]")
            #expect(try await console.see("Opted out."))
            #expect(try await client.allowed(server, "address=dave@example.com&channel=email") == false)
            #expect(try await console.see("asked on a call"), "the timeline shows the evidence")
            try await console.shoot("person")
            try await console.browser.click("form[action$='/request-opt-in'] button[type=submit]")
            #expect(try await console.see("Asked the person to confirm"))
            let requests = try await client.send(.get, "/v1/opt-in-requests", key: server.admin).json["requests"] as? [[String: Any]] ?? []
            #expect(requests.contains { $0["address"] as? String == "dave@example.com" })
            try await console.browser.click("form[action$='/opt-in'] select[name=channel] option[value=email]")
            try await console.browser.type("form[action$='/opt-in'] input[name=kind]", "written_consent")
            try await console.browser.type("form[action$='/opt-in'] input[name=reference]", "signed form 12")
            try await console.browser.click("form[action$='/opt-in'] button[type=submit]")
            #expect(try await console.see("Opted back in"))
            #expect(try await client.allowed(server, "address=dave@example.com&channel=email") == true)
            try await console.open("/console/people/old%40example.com/erase")
            try await console.browser.type("input[name=confirm]", "old@example.com")
            try await console.browser.click("main form button.danger")
            #expect(try await console.see("Erased."))
            let erased = try await client.send(.get, "/v1/addresses/old%40example.com", key: server.admin).json
            #expect((erased["suppressions"] as? [[String: Any]])?.allSatisfy { ($0["address"] as? String)?.hasPrefix("erased:") == true } == true)
        }
    }

    @Test func audienceSendsReviewWebhooksSequencesAndSettingsWorkThroughThePage() async throws {
        let server = try await TestServer(configuration: Self.configuration())
        try await Self.withConsole(server) { console, client in
            try await ConsoleTests.user(client, server, "ann@example.com")
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"addresses": ["old@example.com", "+14155550100"], "channel": "all"}"#)
            try await console.signIn("ann@example.com", ConsoleTests.password)

            // Audience check, recorded as a send: the opted-out are struck through and named.
            try await console.open("/console/audience")
            try await console.browser.type("textarea[name=paste]", "new@example.com\nold@example.com\nnot an address\n")
            try await console.browser.click("input[name=record]")
            try await console.browser.type("input[name=name]", "Spring letter")
            try await console.browser.click("main form button[type=submit]")
            #expect(try await console.see("Optout Email"))
            #expect(try await console.browser.source().contains(#"<tr class="blocked"><td class="address">old@example.com</td>"#))
            try await console.shoot("audience-checked")
            let sends = try await client.send(.get, "/v1/sends", key: server.admin).json["sends"] as? [[String: Any]] ?? []
            let send = try #require(sends.first { $0["name"] as? String == "Spring letter" })
            #expect((send["counts"] as? [String: Any])?["blocked"] as? Int == 1)
            try await console.open("/console/sends/\(try #require(send["id"] as? Int))")
            #expect(try await console.see("Download CSV"))
            try await console.shoot("send")
            // Filtered to the blocked through the page's form.
            #expect(try await console.browser.source().contains("new@example.com"))
            try await console.browser.click("select[name=status] option[value=blocked]")
            try await console.browser.click("main form.inline button[type=submit]")
            #expect(try await console.see(#"<option value="blocked" selected"#))
            let filtered = try await console.browser.source()
            #expect(!filtered.contains("new@example.com") && filtered.contains("old@example.com"))

            // Review: a message that may be an opt-out, decided on the page.
            let inbound = try await client.send(.post, "/v1/inbound", key: server.inbound, json: #"""
                {"channel": "sms", "from": "+14155550123", "to": "+14155550999", "body": "please stop texting me after today"}
                """#)
            #expect(inbound.json["result"] as? String == "needs_review", "\(inbound.json)")
            try await console.open("/console/review")
            #expect(try await console.see("please stop texting me after today"))
            try await console.shoot("review-waiting")
            try await console.browser.click("button[name=decision][value=opt_out]")
            #expect(try await console.see("Decided."))
            #expect(try await client.allowed(server, "address=%2B14155550123&channel=sms") == false)

            // Webhooks: an endpoint, its secret shown once, rotated.
            try await console.open("/console/webhooks")
            try await console.browser.type("input[name=url]", "http://127.0.0.1:9/hooks")
            try await console.browser.click("input[name=events][value='opt_out.created']")
            try await console.browser.click("form[action='/console/webhooks'] button[type=submit]")
            #expect(try await console.see("whsec_"))
            let hooks = try await client.send(.get, "/v1/webhooks", key: server.admin).json["webhooks"] as? [[String: Any]] ?? []
            let hook = try #require(hooks.first { $0["url"] as? String == "http://127.0.0.1:9/hooks" }?["id"] as? Int)
            try await console.open("/console/webhooks/\(hook)")
            try await console.browser.click("form[action$='/rotate'] button")
            #expect(try await console.see("The new signing secret"))
            #expect(try await client.send(.get, "/v1/webhooks/\(hook)", key: server.admin).json["rotating"] as? Bool == true)
            try await console.shoot("webhook")
            try await console.browser.click("form[action='/console/webhooks/\(hook)'] button")
            #expect(try await console.see("Saved."))
            #expect(try await client.send(.get, "/v1/webhooks/\(hook)", key: server.admin).json["enabled"] as? Bool == false)
            try await console.browser.click("form[action='/console/webhooks/\(hook)'] button")
            #expect(try await console.see("Disable</button>"))
            #expect(try await client.send(.get, "/v1/webhooks/\(hook)", key: server.admin).json["enabled"] as? Bool == true)
            try await console.browser.type("input[name=from_sequence]", "1")
            try await console.browser.click("form[action$='/replay'] button")
            #expect(try await console.see("Events queued again."))
            let replayed = try await client.send(.get, "/v1/webhooks/\(hook)/deliveries", key: server.admin).json["deliveries"] as? [[String: Any]] ?? []
            #expect(!replayed.isEmpty, "the replay queued the past opt-outs")
            try await console.browser.click("form[action$='/delete'] button")
            #expect(try await console.see("Deleted."))
            #expect(try await client.send(.get, "/v1/webhooks/\(hook)", key: server.admin).status == .notFound)

            // Sequences and triggers.
            try await console.open("/console/sequences")
            try await console.browser.type("form[action='/console/sequences/rulesets'] input[name=name]", "Outbound")
            try await console.browser.click("form[action='/console/sequences/rulesets'] button[type=submit]")
            #expect(try await console.see("Created."))
            try await console.browser.type("input[name=match]", "Do not call")
            try await console.browser.click("form[action='/console/sequences/triggers'] input[name=channels][value=voice]")
            try await console.browser.click("form[action='/console/sequences/triggers'] button[type=submit]")
            #expect(try await console.see("Do not call"))
            #expect((try await client.send(.get, "/v1/rulesets", key: server.admin).json["rulesets"] as? [[String: Any]])?.first?["name"] as? String == "Outbound")
            #expect((try await client.send(.get, "/v1/triggers", key: server.admin).json["triggers"] as? [[String: Any]])?.count == 1)
            try await console.browser.click("a[href^='/console/sequences/triggers/']")
            #expect(try await console.see("Save trigger"))
            try await console.browser.type("form[action^='/console/sequences/triggers/'] input[name=match]", " again")
            try await console.browser.click("form[action^='/console/sequences/triggers/'] input[name=channels][value=sms]")
            try await console.browser.click("form[action^='/console/sequences/triggers/'] button[type=submit]")
            #expect(try await console.see("Do not call again"))
            let edited = (try await client.send(.get, "/v1/triggers", key: server.admin).json["triggers"] as? [[String: Any]])?.first
            #expect((edited?["when"] as? [String: Any])?["disposition"] as? String == "Do not call again")
            #expect(((edited?["then"] as? [String: Any])?["opt_out"] as? [String: Any])?["channels"] as? [String] == ["sms", "voice"])
            try await console.browser.type("form[action^='/console/sequences/rulesets/'] input[name=opted_out_stage]", " Now")
            try await console.browser.click("form[action^='/console/sequences/rulesets/'] button")
            // "Saved." is on the page already (the trigger's): wait for the stage saved.
            #expect(try await console.see(#"value="Opted Out Now""#))
            #expect((try await client.send(.get, "/v1/rulesets", key: server.admin).json["rulesets"] as? [[String: Any]])?.first?["opted_out_stage"] as? String == "Opted Out Now")
            try await console.browser.click("form[action^='/console/sequences/triggers/'] button")
            #expect(try await console.see("No triggers."))
            try await console.browser.click("form[action$='/delete'][action^='/console/sequences/rulesets/'] button")
            #expect(try await console.see("No rulesets."))
            #expect((try await client.send(.get, "/v1/rulesets", key: server.admin).json["rulesets"] as? [[String: Any]])?.isEmpty == true)
            #expect((try await client.send(.get, "/v1/triggers", key: server.admin).json["triggers"] as? [[String: Any]])?.isEmpty == true)

            // Settings: granular opt-outs, a scope's name, a key shown once, a console user.
            try await console.open("/console/settings")
            try await console.browser.click("input[name=granular_opt_outs]")
            try await console.browser.type("input[name=default_region]", "GB")
            try await console.browser.type("input[name=twilio_auth_token]", "0123456789abcdef0123456789abcdef")
            try await console.browser.type("input[name=keywords_help]", ", INFO")
            try await console.browser.type("textarea[name=help_text]", " Acme.")
            try await console.browser.click("form[action='/console/settings'] button[type=submit]:not([formaction])")
            #expect(try await console.see("Saved."))
            let saved = try await client.send(.get, "/v1/settings", key: server.admin).json
            #expect(saved["granular_opt_outs"] as? Bool == true && saved["default_region"] as? String == "GB" && saved["twilio_auth_token_set"] as? Bool == true)
            #expect(((saved["keywords"] as? [String: Any])?["help"] as? [String])?.last == "INFO" && (saved["help_text"] as? String)?.hasSuffix(" Acme.") == true, "\(saved)")
            #expect(!(try await console.browser.source().contains("0123456789abcdef0123456789abcdef")), "the Twilio token is write-only")
            try await console.browser.type("input[name=brand_name]", "Acme Outreach")
            #expect(try await console.see("preview?brand_name=Acme+Outreach"), "the preview follows the branding typed")
            try await console.browser.click("form[action='/console/settings'] button[type=submit]:not([formaction])")
            #expect(try await console.see(#"maxlength="100" value="Acme Outreach""#))
            #expect(try await client.send(.get, "/v1/settings", key: server.admin).json["brand_name"] as? String == "Acme Outreach", "the branding is saved")
            try await console.browser.type("input[name=path]", "sales/rep-1")
            try await console.browser.type("input[name=display_name]", "Alice at Acme")
            try await console.browser.click("form[action='/console/settings/scopes'] button")
            #expect(try await console.see("Alice at Acme"))
            try await console.browser.click("form[action='/console/settings/keys'] button")
            #expect(try await console.see("Copy it now"))
            let source = try await console.browser.source()
            let key = try #require(source.range(of: "hush_").map { String(source[$0.lowerBound...].prefix { $0 != "<" }) })
            #expect(try await client.send(.get, "/v1/check?address=a@example.com&channel=email", key: key).status == .ok, "the key shown works")
            try await console.browser.type("form[action='/console/settings/users'] input[name=email]", "rep@example.com")
            try await console.browser.click("form[action='/console/settings/users'] button")
            #expect(try await console.see("pass it on now"))
            try await console.shoot("settings-after")
            let users = try await client.send(.get, "/v1/users", key: server.admin).json["users"] as? [[String: Any]] ?? []
            let rep = try #require(users.first { $0["email"] as? String == "rep@example.com" && $0["role"] as? String == "member" }?["id"] as? Int)
            try await console.browser.click("form[action='/console/settings/users/\(rep)/disable'] button")
            #expect(try await console.see("Disabled; the user's sessions ended."))
            let disabled = try await client.send(.get, "/v1/users", key: server.admin).json["users"] as? [[String: Any]] ?? []
            #expect(disabled.first { $0["id"] as? Int == rep }?["disabled_at"] is String)
            let keys = try await client.send(.get, "/v1/keys", key: server.admin).json["keys"] as? [[String: Any]] ?? []
            let made = try #require(keys.first { key.hasPrefix($0["prefix"] as? String ?? "-") }?["id"] as? Int)
            try await console.browser.click("form[action='/console/settings/keys/\(made)/revoke'] button")
            #expect(try await console.see("Revoked."))
            #expect(try await eventually { try await client.send(.get, "/v1/check?address=a@example.com&channel=email", key: key).status == .unauthorized })

            // A member signs in: the admin-only controls are absent.
            try await console.browser.click(".top form button")
            #expect(try await console.see("You are signed out."))
            try await ConsoleTests.user(client, server, "member@example.com", role: "member")
            try await console.signIn("member@example.com", ConsoleTests.password)
            try await console.open("/console/people/%2B14155550100")
            #expect(try await console.see("Request confirmation"))
            #expect(!(try await console.browser.source().contains("Opt back in</button>")))
            #expect(!(try await console.browser.source().contains("/console/connectors")))
            try await console.shoot("person-as-member")
        }
    }
}
