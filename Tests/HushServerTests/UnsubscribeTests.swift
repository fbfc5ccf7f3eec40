import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// What a page or a plain answer looks like to a test.
struct PageResponse {
    let status: HTTPResponse.Status
    let body: String
    let contentType: String?

    /// The form token the page carries.
    var csrf: String? {
        guard let range = body.range(of: #"name="csrf" value=""#) else { return nil }
        return String(body[range.upperBound...].prefix { $0 != "\"" })
    }
}

extension TestClientProtocol {
    func page(_ method: HTTPRequest.Method, _ path: String, form: String? = nil, contentType: String = "application/x-www-form-urlencoded") async throws -> PageResponse {
        var headers = HTTPFields()
        headers[.userAgent] = "HushTests/1.0"
        if form != nil { headers[.contentType] = contentType }
        return try await execute(uri: path, method: method, headers: headers, body: form.map { ByteBuffer(string: $0) }) { response in
            PageResponse(status: response.status, body: String(buffer: response.body), contentType: response.headers[.contentType])
        }
    }

    /// Creates an unsubscribe link and returns its path (`/u/…`).
    func unsubscribePath(_ server: TestServer, _ json: String) async throws -> String {
        let created = try await send(.post, "/v1/unsubscribe-links", key: server.admin, json: json)
        let url = try #require(created.json["url"] as? String)
        return String(url[try #require(url.range(of: "/u/")).lowerBound...])
    }

    /// The person's own opt-out: a one-click on a link made from `json`.
    func oneClick(_ server: TestServer, _ json: String) async throws {
        let path = try await unsubscribePath(server, json)
        #expect(try await page(.post, path, form: "List-Unsubscribe=One-Click").status == .ok)
    }

    func events(_ server: TestServer) async throws -> [[String: Any]] {
        try await send(.get, "/v1/events?limit=1000", key: server.admin).json["events"] as? [[String: Any]] ?? []
    }

    func allowed(_ server: TestServer, _ query: String) async throws -> Bool? {
        try await send(.get, "/v1/check?" + query, key: server.member).json["allowed"] as? Bool
    }
}

@Suite(.everyBackend) struct UnsubscribeTests {
    @Test func linksCarryTheHeadersRFC8058Asks() async throws {
        let server = try await TestServer(configuration: ServerConfiguration(publicURL: "https://hush.example.com/", unsubscribeMailto: "unsubscribe@example.com"))
        try await server.test { client in
            let created = try await client.send(.post, "/v1/unsubscribe-links", key: server.member, json: #"{"address": "Ann@Example.com", "channel": "email", "scope": "brand", "campaign": "spring"}"#)
            #expect(created.status == .created)
            let url = try #require(created.json["url"] as? String)
            #expect(url.hasPrefix("https://hush.example.com/u/v1."))
            #expect(created.json["one_click_url"] as? String == url)
            let headers = try #require(created.json["headers"] as? [String: String])
            #expect(headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click")
            #expect(headers["List-Unsubscribe"]?.hasPrefix("<\(url)>, <mailto:unsubscribe@example.com?subject=unsubscribe%20v1.") == true)

            let sms = try await client.send(.post, "/v1/unsubscribe-links", key: server.member, json: #"{"address": "+14155550100", "channel": "sms"}"#)
            #expect(sms.status == .badRequest)
            #expect(try await client.send(.post, "/v1/unsubscribe-links", key: nil, json: #"{"address": "a@example.com", "channel": "email"}"#).status == .unauthorized)
        }
    }

    @Test func oneClickRecordsAtOnceInBothEncodingsAndOnlyOnce() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.put, "/v1/contacts/crm-1", key: server.admin, json: #"{"emails": ["ann@example.com"], "phones": ["+14155550100"]}"#)
            let path = try await client.unsubscribePath(server, #"{"address": "ann@example.com", "contact": "crm-1", "channel": "email", "scope": "brand", "campaign": "spring"}"#)

            // Looking at the page changes nothing.
            #expect(try await client.page(.get, path).status == .ok)
            #expect(try await client.page(.get, path).status == .ok)
            #expect(try await client.events(server).isEmpty)
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email&scope=brand") == true)

            let clicked = try await client.page(.post, path, form: "List-Unsubscribe=One-Click")
            #expect(clicked.status == .ok, "RFC 8058: 200, never a redirect")
            #expect(clicked.contentType?.hasPrefix("text/plain") == true)
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email&scope=brand") == false)
            // Granular opt-outs are off: the person's texts stop too.
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms&scope=brand") == false)
            let events = try await client.events(server)
            let event = try #require(events.first)
            #expect(event["source"] as? String == "one_click")
            #expect(event["channel"] as? String == "all")
            let evidence = try #require(event["evidence"] as? [String: Any])
            #expect(evidence["campaign"] as? String == "spring")
            #expect(evidence["user_agent"] as? String == "HushTests/1.0")
            #expect((evidence["token_id"] as? String)?.count == 16)
            #expect(evidence["ip"] != nil)

            let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n"
            let again = try await client.page(.post, path, form: multipart, contentType: "multipart/form-data; boundary=XyZ")
            #expect(again.status == .ok)
            #expect(try await client.events(server).count == events.count, "a repeated click records nothing new")
        }
    }

    @Test func withGranularOptOutsOneClickStopsEmailOnly() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"granular_opt_outs": true}"#)
            try await client.send(.put, "/v1/contacts/crm-2", key: server.admin, json: #"{"emails": ["bo@example.com"], "phones": ["+14155550101"]}"#)
            let path = try await client.unsubscribePath(server, #"{"address": "bo@example.com", "contact": "crm-2", "channel": "email"}"#)
            let multipart = "--b0und\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b0und--\r\n"
            #expect(try await client.page(.post, path, form: multipart, contentType: "multipart/form-data; boundary=\"b0und\"").status == .ok)
            #expect(try await client.allowed(server, "address=bo@example.com&channel=email") == false)
            #expect(try await client.allowed(server, "address=%2B14155550101&channel=sms") == true)
            #expect(try await client.events(server).first?["channel"] as? String == "email")
        }
    }

    @Test func alteredOrCutLinksAreRefusedAndChangeNothing() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let path = try await client.unsubscribePath(server, #"{"address": "ann@example.com", "channel": "email"}"#)
            var parts = path.split(separator: ".").map(String.init)
            let payload = Data(base64URLEncoded: parts[2])!
            let other = String(decoding: payload, as: UTF8.self).replacingOccurrences(of: "ann@", with: "bob@")
            parts[2] = Data(other.utf8).base64URLEncoded()
            let altered = parts.joined(separator: ".")
            for bad in [altered, String(path.dropLast(5)), "/u/v1.nokey.abc.def", "/u/garbage"] {
                let post = try await client.page(.post, bad, form: "List-Unsubscribe=One-Click")
                #expect(post.status == .badRequest, "\(bad)")
                #expect(post.contentType?.hasPrefix("text/html") == true)
                #expect(post.body.contains("This link does not work"))
                #expect(try await client.page(.get, bad).status == .badRequest)
            }
            #expect(try await client.events(server).isEmpty)
        }
    }

    @Test(arguments: [("sender", "brand/rep-1"), ("client", "brand"), ("organization", ""), ("all", "")])
    func eachScopeChoiceRecordsItsScope(choice: String, expected: String) async throws {
        let server = try await TestServer()
        try await server.test { client in
            let path = try await client.unsubscribePath(server, #"{"address": "ann@example.com", "channel": "email", "scope": "brand/rep-1"}"#)
            let page = try await client.page(.get, path)
            #expect(page.body.contains(#"value="\#(choice)""#))
            let csrf = try #require(page.csrf)
            let done = try await client.page(.post, path, form: "csrf=\(csrf)&choice=\(choice)")
            #expect(done.status == .ok)
            #expect(done.body.contains("You are unsubscribed"))
            let event = try #require(try await client.events(server).first)
            #expect(event["scope"] as? String == expected)
            #expect(event["source"] as? String == "preference_center")
            #expect((event["evidence"] as? [String: Any])?["page_version"] as? String == PublicPages.pageVersion)
            // "brand/rep-2" is another sender of the same client.
            let sibling = try await client.allowed(server, "address=ann@example.com&channel=email&scope=brand/rep-2")
            #expect(sibling == (choice == "sender"))
        }
    }

    @Test func granularChoicesOfChannelsAndLists() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"granular_opt_outs": true}"#)
            let news = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Newsletter"}"#)
            let newsID = try #require(news.json["id"] as? Int)
            try await client.send(.put, "/v1/contacts/crm-3", key: server.admin, json: #"{"emails": ["cy@example.com"], "phones": ["+14155550102"]}"#)
            let path = try await client.unsubscribePath(server, #"{"address": "cy@example.com", "contact": "crm-3", "channel": "email", "list": "Newsletter"}"#)
            let page = try await client.page(.get, path)
            #expect(page.body.contains(#"name="channels" value="sms""#))
            #expect(page.body.contains(#"name="lists" value="\#(newsID)" checked"#))
            let csrf = try #require(page.csrf)
            let done = try await client.page(.post, path, form: "csrf=\(csrf)&choice=organization&channels=email&channels=sms&lists=\(newsID)")
            #expect(done.status == .ok)
            let events = try await client.events(server)
            #expect(Set(events.compactMap { $0["channel"] as? String }) == ["email", "sms"])
            #expect(Set(events.compactMap { $0["list"] as? Int }) == [newsID])
            #expect(events.contains { $0["contact"] as? String == "crm-3" && $0["channel"] as? String == "sms" }, "texts stop for the person")
            #expect(try await client.allowed(server, "address=cy@example.com&channel=email&lists=Newsletter") == false)
            #expect(try await client.allowed(server, "address=cy@example.com&channel=email") == true, "only the list was chosen")
            #expect(try await client.allowed(server, "address=%2B14155550102&channel=sms&lists=Newsletter") == false)
            #expect(try await client.allowed(server, "address=%2B14155550102&channel=voice&lists=Newsletter") == true)

            let none = try await client.page(.post, path, form: "csrf=\(csrf)&choice=organization")
            #expect(none.status == .badRequest, "at least one channel")
        }
    }

    /// "Every channel" chosen on the form stops the person's other addresses, as a one-click
    /// does; with granular opt-outs off, "everyone in the organization" is every channel too.
    @Test(arguments: ["all", "organization"])
    func everyChannelChosenOnTheFormStopsThePersonsNumber(choice: String) async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.put, "/v1/contacts/crm-1", key: server.admin, json: #"{"emails": ["ann@example.com"], "phones": ["+14155550100"]}"#)
            let path = try await client.unsubscribePath(server, #"{"address": "ann@example.com", "contact": "crm-1", "channel": "email"}"#)
            let csrf = try #require(try await client.page(.get, path).csrf)
            #expect(try await client.page(.post, path, form: "csrf=\(csrf)&choice=\(choice)").status == .ok)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == false)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=voice") == false)
        }
    }

    /// A list that covers only some of the ticked channels takes those; a ticked channel it does
    /// not cover stops for all messages, and a list covering no channel offered is not shown.
    @Test func listsCoveringSomeTickedChannelsTakeThoseChannels() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"granular_opt_outs": true}"#)
            let alerts = try #require(try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "SMS alerts", "channels": ["sms"]}"#).json["id"] as? Int)
            let calls = try #require(try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Calls", "channels": ["voice"]}"#).json["id"] as? Int)
            try await client.send(.put, "/v1/contacts/crm-3", key: server.admin, json: #"{"emails": ["cy@example.com"], "phones": ["+14155550102"]}"#)
            let path = try await client.unsubscribePath(server, #"{"address": "cy@example.com", "contact": "crm-3", "channel": "email"}"#)
            let page = try await client.page(.get, path)
            #expect(page.body.contains(#"name="lists" value="\#(alerts)""#))
            let csrf = try #require(page.csrf)
            let done = try await client.page(.post, path, form: "csrf=\(csrf)&choice=organization&channels=email&channels=sms&lists=\(alerts)")
            #expect(done.status == .ok)
            #expect(try await client.allowed(server, "address=%2B14155550102&channel=sms&lists=SMS%20alerts") == false)
            #expect(try await client.allowed(server, "address=%2B14155550102&channel=sms") == true, "texts stop for the list only")
            #expect(try await client.allowed(server, "address=cy@example.com&channel=email") == false, "email, ticked, stops for all messages")

            let emailOnly = try await client.unsubscribePath(server, #"{"address": "dee@example.com", "channel": "email"}"#)
            let shown = try await client.page(.get, emailOnly).body
            #expect(!shown.contains(#"value="\#(calls)""#) && !shown.contains(#"value="\#(alerts)""#), "no list reaches dee's email")
        }
    }

    @Test func formsWithoutTheirLinksTokenAreRefused() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let path = try await client.unsubscribePath(server, #"{"address": "ann@example.com", "channel": "email"}"#)
            let otherPath = try await client.unsubscribePath(server, #"{"address": "bob@example.com", "channel": "email"}"#)
            let otherToken = try #require(try await client.page(.get, otherPath).csrf)
            for form in ["choice=all", "csrf=&choice=all", "csrf=\(otherToken)&choice=all", "csrf=forged&choice=all"] {
                let refused = try await client.page(.post, path, form: form)
                #expect(refused.status == .forbidden, "\(form)")
                #expect(refused.body.contains("Please try again"))
            }
            #expect(try await client.page(.post, path + "/resubscribe", form: "csrf=\(otherToken)").status == .forbidden)
            #expect(try await client.events(server).isEmpty)
        }
    }

    @Test func optingBackInWaitsForTheConfirmationLink() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let path = try await client.unsubscribePath(server, #"{"address": "ann@example.com", "channel": "email", "scope": "brand"}"#)
            #expect(try await client.page(.post, path, form: "List-Unsubscribe=One-Click").status == .ok)
            let page = try await client.page(.get, path)
            #expect(page.body.contains("You are unsubscribed from these messages"))
            let csrf = try #require(page.csrf)

            let pending = try await client.page(.post, path + "/resubscribe", form: "csrf=\(csrf)")
            #expect(pending.status == .ok)
            #expect(pending.body.contains("Check your inbox"))
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email&scope=brand") == false, "nothing lifted yet")

            let requests = try await client.send(.get, "/v1/opt-in-requests", key: server.admin).json["requests"] as? [[String: Any]]
            let request = try #require(requests?.first)
            #expect(request["requested_by"] as? String == "preference_center")
            let confirmURL = try #require(request["confirm_url"] as? String)
            let confirmPath = String(confirmURL[try #require(confirmURL.range(of: "/c/")).lowerBound...])

            let confirmPage = try await client.page(.get, confirmPath)
            #expect(confirmPage.status == .ok)
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email&scope=brand") == false, "GET lifts nothing")
            #expect(try await client.page(.post, confirmPath, form: "csrf=nope").status == .forbidden)
            #expect(try await client.page(.post, confirmPath, form: "csrf=\(csrf)").status == .forbidden, "the unsubscribe link's token is not this link's")

            let confirmed = try await client.page(.post, confirmPath, form: "csrf=\(try #require(confirmPage.csrf))")
            #expect(confirmed.status == .ok)
            #expect(confirmed.body.contains("You are subscribed again"))
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email&scope=brand") == true)
            let optIn = try #require(try await client.events(server).last)
            #expect(optIn["type"] as? String == "opt_in")
            let evidence = try #require(optIn["evidence"] as? [String: Any])
            #expect(evidence["kind"] as? String == "confirmed_link")
            #expect(evidence["reference"] as? String == "opt_in_request:\(request["id"] as? Int ?? 0)")
            #expect(evidence["page_version"] as? String == PublicPages.pageVersion)
            #expect(evidence["user_agent"] as? String == "HushTests/1.0")
            #expect((evidence["confirmation_text"] as? String)?.contains("ann@example.com") == true)

            let count = try await client.events(server).count
            let again = try await client.page(.post, confirmPath, form: "csrf=\(try #require(confirmPage.csrf))")
            #expect(again.body.contains("already used"))
            #expect(try await client.events(server).count == count)
            let pendingAfter = try await client.send(.get, "/v1/opt-in-requests", key: server.member).json["requests"] as? [Any]
            #expect(pendingAfter?.isEmpty == true)
        }
    }

    @Test func aRepCanAskForAnOptInThatThePersonConfirms() async throws {
        let server = try await TestServer()
        try await server.test { client in
            // The person's own STOP, which their confirmation may lift.
            try await client.send(.post, "/v1/inbound", key: server.inbound, json: #"{"channel": "sms", "from": "+14155550103", "to": "+18005551212", "body": "STOP"}"#)
            #expect(try await client.allowed(server, "address=%2B14155550103&channel=sms") == false)
            let created = try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: #"{"address": "+1 415 555 0103", "channel": "sms"}"#)
            #expect(created.status == .created)
            #expect(created.json["confirm_url"] == nil, "a member never sees the link")
            let listed = try await client.send(.get, "/v1/opt-in-requests", key: server.admin).json["requests"] as? [[String: Any]]
            let url = try #require(listed?.first?["confirm_url"] as? String)
            let path = String(url[try #require(url.range(of: "/c/")).lowerBound...])
            let page = try await client.page(.get, path)
            #expect(try await client.page(.post, path, form: "csrf=\(try #require(page.csrf))").status == .ok)
            #expect(try await client.allowed(server, "address=%2B14155550103&channel=sms") == true)
            let bad = try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: #"{"address": "a@example.com", "channel": "sms"}"#)
            #expect(bad.status == .badRequest)
        }
    }

    @Test func publicPagesAreRateLimitedPerIP() async throws {
        let server = try await TestServer(configuration: ServerConfiguration(publicRequestsPerMinute: 3))
        try await server.test { client in
            let path = try await client.unsubscribePath(server, #"{"address": "ann@example.com", "channel": "email"}"#)
            for _ in 0..<3 { #expect(try await client.page(.get, path).status == .ok) }
            let limited = try await client.page(.get, path)
            #expect(limited.status == .tooManyRequests)
            #expect(try await client.send(.get, "/v1/settings", key: server.member).status == .ok, "the API is not limited")
        }
    }

    @Test func theOrganizationsBrandingShowsOnItsPages() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let set = try await client.send(.patch, "/v1/settings", key: server.admin, json: ##"{"brand_name": "Acme Outreach", "brand_logo_url": "https://cdn.example.com/logo.png", "brand_color": "#FFEB3B"}"##)
            #expect(set.status == .ok)
            #expect(set.json["brand_color"] as? String == "#ffeb3b")
            let path = try await client.unsubscribePath(server, #"{"address": "ann@example.com", "channel": "email"}"#)
            let page = try await client.page(.get, path)
            #expect(page.body.contains("<strong>Acme Outreach</strong>"))
            #expect(page.body.contains(#"<img src="https://cdn.example.com/logo.png" alt="">"#))
            #expect(page.body.contains("--brand: #ffeb3b; --on-brand: #000000;"))
            for (body, field) in [(#"{"brand_color": "red"}"#, "brand_color"), (#"{"brand_logo_url": "http://x.example/logo.png"}"#, "brand_logo_url"), (#"{"brand_name": ""}"#, "brand_name")] {
                let bad = try await client.send(.patch, "/v1/settings", key: server.admin, json: body)
                #expect(bad.status == .badRequest)
                #expect(((bad.json["errors"] as? [[String: Any]])?.first?["field"] as? String) == field)
            }
            let cleared = try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"brand_name": null}"#)
            #expect(cleared.json["brand_name"] is NSNull)
            #expect(cleared.json["brand_color"] as? String == "#ffeb3b")
        }
    }

    @Test func textColourStaysReadableOnTheBrandColour() {
        #expect(Brand.readableText(on: "#1d4ed8") == "#ffffff")
        #expect(Brand.readableText(on: "#ffeb3b") == "#000000")
        #expect(Brand.readableText(on: "#000000") == "#ffffff")
    }
}
