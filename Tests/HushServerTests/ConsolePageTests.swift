import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// What the console's pages show and do: scope names, adding to a list, people and their
/// links, downloads.
extension ConsoleTests {
    @Test func scopeNamesShowInTheConsoleAndOnThePreferencePage() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let (named, name, _) = try await client.send(.put, "/v1/scopes/brand%2Frep-1", key: server.admin, json: #"{"display_name": " Alice at Acme "}"#)
            #expect(named == .ok && name["display_name"] as? String == "Alice at Acme", "\(name)")
            try await client.send(.put, "/v1/scopes/brand", key: server.admin, json: #"{"display_name": "Acme Brand"}"#)
            #expect(try await client.send(.put, "/v1/scopes/brand%2Frep-1", key: server.member, json: #"{"display_name": "x"}"#).status == .forbidden)
            #expect(try await client.send(.put, "/v1/scopes/Bad%20Path", key: server.admin, json: #"{"display_name": "x"}"#).status == .badRequest)
            #expect(try await client.send(.put, "/v1/scopes/brand", key: server.admin, json: #"{"display_name": ""}"#).status == .badRequest)
            let listed = try await client.send(.get, "/v1/scopes", key: server.member).json["scopes"] as? [[String: Any]]
            #expect(listed?.map { $0["path"] as? String } == ["brand", "brand/rep-1"])

            let path = try await client.unsubscribePath(server, #"{"address": "ann@example.com", "channel": "email", "scope": "brand/rep-1"}"#)
            let page = try await client.execute(uri: path, method: .get) { String(buffer: $0.body) }
            #expect(page.contains("This sender only (Alice at Acme)") && page.contains("Everyone at Acme Brand"), "\(page)")

            // The console names the scope wherever it shows one: a list's entries, an audience
            // check's "blocked by", a send's report.
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "bob@example.com", "channel": "email", "scope": "brand/rep-1"}"#)
            try await Self.user(client, server, "ann@example.com")
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)
            let list = try await session.get("/console/lists/\(server.acme.defaultList.rawValue)").html
            #expect(list.contains("Alice at Acme (brand/rep-1)"), "\(list)")
            let audience = try await session.post("/console/audience", [("paste", "bob@example.com"), ("channel", "email"), ("scope", "brand/rep-1"), ("record", "on")])
            #expect(audience.html.contains("default · Alice at Acme (brand/rep-1) · api"), "\(audience.html)")
            let send = try #require((try await client.send(.get, "/v1/sends", key: server.admin).json["sends"] as? [[String: Any]])?.first?["id"] as? Int)
            let report = try await session.get("/console/sends/\(send)").html
            #expect(report.contains("<dd>Alice at Acme (brand/rep-1)</dd>") && report.contains("default · Alice at Acme (brand/rep-1) · api"), "\(report)")
            #expect(try await session.get("/console/sends").html.contains(#"<td class="hide-narrow">Alice at Acme (brand/rep-1)</td>"#))

            #expect(try await client.send(.put, "/v1/scopes/brand", key: server.admin, json: #"{"display_name": null}"#).status == .noContent)
            let after = try await client.execute(uri: path, method: .get) { String(buffer: $0.body) }
            #expect(after.contains("Everyone at brand"))
        }
    }

    /// Adding to a list warns first about the people it stops already, on every channel the
    /// add covers: the confirmation carries the one address as it was typed, or the lines.
    @Test func addingToAListWarnsFirstAboutThoseItStopsAlready() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let list = try #require(try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Promos"}"#).json["id"] as? Int)
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"addresses": ["bob@example.com", "+14155550100"], "channel": "sms", "list": \#(list)}"#)
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "bob@example.com", "channel": "email", "list": \#(list)}"#)
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "dan@example.com", "channel": "email"}"#)
            try await Self.user(client, server, "ann@example.com")
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)
            // Bob is on the list; the number is on it for sms only (an add of `all` covers
            // WhatsApp and voice too); Dan is opted out on another list.
            let warned = try await session.post("/console/lists/\(list)/add", [("paste", "bob@example.com\n+14155550100\ndan@example.com"), ("channel", "all")])
            #expect(warned.html.contains("1 of the 3 addresses are on this list already") && warned.html.contains("<li>bob@example.com</li>"), "\(warned.html)")
            #expect(!warned.html.contains("<li>+14155550100</li>") && !warned.html.contains("<li>dan@example.com</li>"))
            #expect(try await client.allowed(server, "address=dan@example.com&channel=email&lists=\(list)") == false, "dan is out on default")
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=voice&lists=\(list)") == true, "nothing added before the yes")

            // The yes adds the others, with the channel asked for.
            let others = #"<textarea name="paste" hidden>"# + "\n+14155550100\ndan@example.com</textarea>"
            #expect(warned.html.contains(others) && warned.html.contains(#"<input type="hidden" name="channel" value="all">"#), "\(warned.html)")
            let added = try await session.post("/console/lists/\(list)/add", [("paste", "\n+14155550100\ndan@example.com"), ("channel", "all"), ("confirmed", "1")])
            #expect(added.html.contains("Added 2 of 2."), "\(added.html)")
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=voice&lists=\(list)") == false)

            // One address the list stops already: nothing to add.
            let single = try await session.post("/console/lists/\(list)/add", [("address", "bob@example.com"), ("channel", "email")])
            #expect(single.html.contains("Nothing else to add.") && !single.html.contains("name=\"confirmed\""), "\(single.html)")
        }
    }

    @Test func listFormsPeopleLinksAndEntryKeysSurviveWhatAddressesMayHold() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let created = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "texts", "channels": ["sms"]}"#)
            let id = try #require(created.json["id"] as? Int)
            try await client.send(.post, "/v1/lists/\(id)/entries", key: server.admin, json: #"{"entries": [{"address": "+14155550100", "channel": "sms"}]}"#)
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"addresses": ["a#b@example.com", "c|d@example.com", "e%41@example.com"], "channel": "email"}"#)
            try await Self.user(client, server, "ann@example.com")
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)

            // The edit form shows the list's own channels ticked, and saving keeps them.
            let page = try await session.get("/console/lists/\(id)").html
            #expect(page.contains(#"name="channels" value="sms" checked"#) && page.contains(#"name="channels" value="email">"#), "\(page)")
            let saved = try await session.post("/console/lists/\(id)", [("name", "texts"), ("description", "Texts only"), ("channels", "sms")])
            #expect(saved.status == .seeOther, "\(saved.html)")
            let list = try await client.send(.get, "/v1/lists/\(id)", key: server.admin).json
            #expect(list["channels"] as? [String] == ["sms"] && list["description"] as? String == "Texts only")

            // Links to people are percent-encoded, so `#`, `|` and `%` in a local part name the right person.
            let entries = try await session.get("/console/lists/\(server.acme.defaultList.rawValue)").html
            #expect(entries.contains(#"href="/console/people/a%23b%40example.com""#) && entries.contains(#"href="/console/people/e%2541%40example.com""#))
            #expect(try await session.get("/console/people/e%2541%40example.com").html.contains("<h1>e%41@example.com</h1>"))
            let removed = try await session.post("/console/lists/\(server.acme.defaultList.rawValue)/remove", [
                ("entry", "c|d@example.com|email|"), ("kind", "written_consent"), ("reference", "t-9"),
            ])
            #expect(removed.status == .seeOther, "\(removed.html)")
            #expect(try await client.allowed(server, "address=c%7Cd@example.com&channel=email") == true)

            // A console page is counted under its own route, not the /v1 routes it called.
            #expect(try await session.get("/console/lists").status == .ok)
            let metrics = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
            #expect(metrics.contains(#"route="/console/lists/{id}""#) || metrics.contains(#"route="/console/lists/:id""#), "\(metrics.prefix(3000))")
            #expect(!metrics.contains(#"route="/v1/stats""#), "the lists page's call to /v1/stats is not a request of its own")
        }
    }

    @Test func downloadsAreTheCLIsCSVAndTheAPIsReport() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"addresses": ["ann@example.com", "+14155550100", "gone@example.com"], "channel": "all"}"#)
            try await client.send(.post, "/v1/erasures", key: server.admin, json: #"{"address": "gone@example.com"}"#)
            let sent = try await client.send(.post, "/v1/sends", key: server.admin, json: #"{"channel": "email", "recipients": ["ann@example.com", "bob@example.com"]}"#)
            try await Self.user(client, server, "rep@example.com", role: "member")
            let session = try #require(try await ConsoleSession.signIn(client, "rep@example.com", Self.password).session)

            let csv = try await session.get("/console/lists/\(server.acme.defaultList.rawValue)/export.csv").html
            let lines = csv.split(separator: "\n").map(String.init)
            #expect(lines.first == "address,channel,scope,list,since,source,hold")
            #expect(lines.count == 3, "the erased address is left out: \(csv)")
            #expect(lines.contains { $0.hasPrefix("'+14155550100,all,,default,") }, "a formula-like cell is defused as hush export does: \(csv)")
            #expect(lines.contains { $0.hasPrefix("ann@example.com,all,,default,") && $0.hasSuffix(",api,false") })

            let report = try await session.get("/console/sends/\(try #require(sent.json["id"] as? Int))/report.csv")
            #expect(report.status == .ok && report.html.contains("Optout Email"), "\(report.html)")
            #expect(try await session.get("/console/sends/999999/report.csv").status == .notFound)
        }
    }

    /// A trigger whose list was deleted shows that list ticked on its edit page (saving it
    /// unseen would mean the default list), and the API refuses it beside the field.
    @Test func aTriggersDeletedListStaysShownWhenEdited() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let promo = try #require(try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Promos", "channels": ["sms"]}"#).json["id"] as? Int)
            let trigger = try #require(try await client.send(.post, "/v1/triggers", key: server.admin, json: #"{"on": "message.received", "when": {"keyword": "PROMO GO"}, "then": {"opt_in": {"lists": [\#(promo)]}}}"#).json["id"] as? Int)
            #expect(try await client.send(.delete, "/v1/lists/\(promo)", key: server.admin).status == .noContent)
            try await Self.user(client, server, "ann@example.com")
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)
            let page = try await session.get("/console/sequences/triggers/\(trigger)").html
            #expect(page.contains(#"value="\#(promo)" checked> #\#(promo) (deleted)"#), "\(page)")
            let saved = try await session.post("/console/sequences/triggers/\(trigger)", [("on", "message.received"), ("match", "PROMO GO"), ("action", "opt_in"), ("lists", "\(promo)")])
            #expect(saved.status == .notFound && saved.html.contains("no list \(promo)"), "\(saved.html)")
        }
    }

    /// The actions the browser tests leave out, through the pages' forms and links: errors
    /// beside the field, keywords and help text saved, the overview's 90 days, a send's report
    /// filtered by status, "Optout Number", a connector's status and log.
    @Test func theSmallerActionsOfThePagesWork() async throws {
        let server = try await TestServer(configuration: ConsoleBrowserTests.configuration())
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"addresses": ["old@example.com", "+14155550100"], "channel": "all"}"#)
            try await Self.user(client, server, "ann@example.com")
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)

            // A refused list: the API's message beside the field it names, what was typed kept.
            let refused = try await session.post("/console/lists", [("name", "1234"), ("description", "digits only")])
            #expect(refused.status == .badRequest)
            #expect(refused.html.contains(#"aria-invalid="true""#) && refused.html.contains(#"<span class="error">"#) && refused.html.contains("digits only"), "\(refused.html)")

            // Keywords and help text (CTIA's words stay; a word of our own beside them).
            let before = try await client.send(.get, "/v1/settings", key: server.admin).json["keywords"] as? [String: Any]
            let stopWords = ((before?["opt_out"] as? [String] ?? []) + ["HALT"]).joined(separator: ", ")
            let startWords = (before?["opt_in"] as? [String] ?? []).joined(separator: ", ")
            let saved = try await session.post("/console/settings", [
                ("keywords_opt_out", stopWords), ("keywords_opt_in", startWords), ("keywords_help", "HELP, INFO"), ("help_text", "Acme: reply STOP to stop."),
            ])
            #expect(saved.location == "/console/settings?notice=saved", "\(saved.html)")
            let settings = try await client.send(.get, "/v1/settings", key: server.admin).json
            #expect((settings["keywords"] as? [String: Any])?["help"] as? [String] == ["HELP", "INFO"], "\(settings)")
            #expect(((settings["keywords"] as? [String: Any])?["opt_out"] as? [String])?.contains("HALT") == true, "\(settings)")
            #expect(settings["help_text"] as? String == "Acme: reply STOP to stop.")

            // The overview over 90 days.
            let ninety = try await session.get("/console?days=90").html
            #expect(ninety.contains("Show 30 days") && ninety.contains("last 90 days"), "\(ninety)")

            // A send of numbers: "Optout Number", and the report filtered to the blocked.
            let audience = try await session.post("/console/audience", [("paste", "+14155550100\n+14155550199"), ("channel", "sms"), ("record", "on"), ("name", "Texts")])
            #expect(audience.html.contains("Optout Number"), "\(audience.html)")
            let send = try #require((try await client.send(.get, "/v1/sends", key: server.admin).json["sends"] as? [[String: Any]])?.first?["id"] as? Int)
            let blocked = try await session.get("/console/sends/\(send)?status=blocked").html
            #expect(blocked.contains("+14155550100") && !blocked.contains("+14155550199"), "\(blocked)")
            #expect(blocked.contains(#"<option value="blocked" selected>"#))

            // A connector's page shows its status and log once it has run.
            let connector = try #require(try await client.send(.post, "/v1/connectors", key: server.admin, json: """
                {"name": "dyn", "provider": "dynamics", "instance_url": "http://127.0.0.1:9", "token_url": "http://127.0.0.1:9/token", "auth": {"tenant": "t", "client_id": "c", "client_secret": "s"}, "mode": "shared_field"}
                """).json["id"] as? Int)
            let run = try await session.post("/console/connectors/\(connector)/sync", [])
            #expect(run.status == .ok, "\(run.html)")
            let page = try await session.get("/console/connectors/\(connector)").html
            #expect(page.contains("<h2>Status</h2>") && page.contains("<dt>State</dt><dd>error</dd>"), "\(page)")
            #expect(page.contains("CRM opt-outs land at Whole organization, on the list default.") && page.contains("<dd>never read</dd>"), "\(page)")
            #expect(page.contains("<h2>Log</h2>") && !page.contains("Nothing yet."), "\(page)")
        }
    }

    /// A person found by address shows the contacts the address is linked to and their other
    /// addresses (the API answers them with the address).
    @Test func aPersonFoundByAddressShowsItsContactsAndTheirAddresses() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.put, "/v1/contacts/c-9", key: server.admin, json: #"{"emails": ["amy@example.com"], "phones": ["+14155550142"]}"#)
            try await client.send(.put, "/v1/contacts/c-10", key: server.admin, json: #"{"emails": ["amy@example.com", "amy@work.example"]}"#)
            let read = try await client.send(.get, "/v1/addresses/amy@example.com", key: server.member).json
            #expect(Set(read["contacts"] as? [String] ?? []) == ["c-9", "c-10"], "\(read)")
            #expect(try await client.send(.get, "/v1/addresses/nobody@example.com", key: server.member).json["contacts"] as? [String] == [])
            try await Self.user(client, server, "ann@example.com", role: "member")
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)
            let page = try await session.get("/console/people/amy%40example.com").html
            #expect(page.contains(#"<a href="/console/people/c-9">c-9</a>"#) && page.contains(#"<a href="/console/people/c-10">c-10</a>"#), "\(page)")
            #expect(page.contains(#"<a href="/console/people/%2B14155550142">+14155550142</a>"#) && page.contains("amy@work.example"), "\(page)")
            #expect(!page.contains(#"<a href="/console/people/amy%40example.com">"#), "not itself")
        }
    }

    /// An address's history answers its newest 1 000 events and says when older ones were left
    /// out; the person's page then points to the paged ledger.
    @Test func aLongHistoryIsCutToTheNewestThousandAndSaysSo() async throws {
        let server = try await TestServer()
        let address = try Address(parsing: "long@example.com")
        @Sendable func optOut(_ scope: Int) throws -> OptOut {
            OptOut(subject: .address(address), channel: .only(.email), scope: try Scope(parsing: "s\(scope)"),
                   list: nil, source: .api, actor: "test", evidence: Evidence())
        }
        _ = try await server.store.record((0..<1_000).map(optOut), in: server.acme.id)
        try await server.test { client in
            let whole = try await client.send(.get, "/v1/addresses/long@example.com", key: server.member).json
            #expect((whole["events"] as? [Any])?.count == 1_000 && whole["events_truncated"] as? Bool == false, "\(whole["events_truncated"] ?? "none")")
            try await Self.user(client, server, "ann@example.com", role: "member")
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)
            #expect(!(try await session.get("/console/people/long%40example.com").html.contains("pages through the whole history")))

            // An address holds at most 1 000 opt-outs in force: the 1 001st event lifts one.
            _ = try await server.store.record(
                OptIn(subject: .address(address), channel: .only(.email), scope: try Scope(parsing: "s0"), actor: "admin",
                      consent: Consent(kind: "written_consent", reference: "ticket-1"), authority: .admin),
                in: server.acme.id)
            let cut = try await client.send(.get, "/v1/addresses/long@example.com", key: server.member).json
            let events = cut["events"] as? [[String: Any]] ?? []
            #expect(events.count == 1_000 && events.first?["scope"] as? String == "s1", "the oldest left out")
            #expect(events.last?["type"] as? String == "opt_in" && events.last?["scope"] as? String == "s0")
            #expect(cut["events_truncated"] as? Bool == true)
            let page = try await session.get("/console/people/long%40example.com").html
            #expect(page.contains("<code>GET /v1/events?address=</code> pages through the whole history"), "\(page.suffix(2_000))")
        }
    }

    /// A trigger stored before the other event's condition was refused may hold both: the API
    /// shows its own only, and the console edits its own (a keyword trigger opened with its
    /// stray disposition as the words would have changed what it fires on).
    @Test func aTriggerStoredWithBothConditionsShowsItsOwn() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let stored = try await server.store.createTrigger(Trigger(
                on: .messageReceived, when: Trigger.Condition(disposition: "left over", keyword: "PROMO GO"),
                then: Trigger.Action(optOut: Trigger.Change(channels: ["sms"]), optIn: nil)), in: server.acme.id)
            let read = try await client.send(.get, "/v1/triggers/\(stored.id.rawValue)", key: server.admin).json
            #expect(read["when"] as? [String: String] == ["keyword": "PROMO GO"], "\(read)")
            try await Self.user(client, server, "ann@example.com")
            let session = try #require(try await ConsoleSession.signIn(client, "ann@example.com", Self.password).session)
            let page = try await session.get("/console/sequences/triggers/\(stored.id.rawValue)").html
            #expect(page.contains(#"value="PROMO GO""#) && !page.contains("left over"), "\(page)")
        }
    }
}
