import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// The security review's attacks on DESIGN rule 2: nobody but the person, or an admin with
/// evidence, lifts an opt-out.
@Suite(.everyBackend) struct LiftingTests {
    private func confirmPath(_ client: any TestClientProtocol, _ server: TestServer, request id: Int) async throws -> String {
        let listed = try await client.send(.get, "/v1/opt-in-requests?status=all", key: server.admin).json["requests"] as? [[String: Any]]
        let url = try #require(listed?.first { $0["id"] as? Int == id }?["confirm_url"] as? String)
        return String(url[try #require(url.range(of: "/c/")).lowerBound...])
    }

    private func confirm(_ client: any TestClientProtocol, _ path: String) async throws -> PageResponse {
        let page = try await client.page(.get, path)
        return try await client.page(.post, path, form: "csrf=\(page.csrf ?? "")")
    }

    private func blockers(_ client: any TestClientProtocol, _ server: TestServer, _ query: String) async throws -> [[String: Any]] {
        try await client.send(.get, "/v1/check?" + query, key: server.member).json["blocked_by"] as? [[String: Any]] ?? []
    }

    /// A member asks for an opt-in for an address of their own, naming someone's contact (or
    /// links it to the contact first): the contact's opt-out began before that address was the
    /// contact's, so its confirmation lifts nothing of the contact's. The person's own address,
    /// linked before, still can.
    @Test func aConfirmationLiftsAContactsOptOutOnlyThroughAnAddressItHadBefore() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.put, "/v1/contacts/crm-42", key: server.admin, json: #"{"emails": ["ann@example.com"], "phones": ["+1 415 555 0111"]}"#)
            // Ann's own one-click, which stops every channel of the person: crm-42's too.
            try await client.oneClick(server, #"{"address": "ann@example.com", "contact": "crm-42", "channel": "email"}"#)
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email") == false)
            server.clock.advance(by: 1)

            let named = try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: #"{"address": "rep@evil.example", "contact": "crm-42", "channel": "email"}"#)
            let namedID = try #require(named.json["id"] as? Int)
            try await client.send(.put, "/v1/contacts/crm-42", key: server.member, json: #"{"emails": ["rep2@evil.example"]}"#)
            let linked = try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: #"{"address": "rep2@evil.example", "contact": "crm-42", "channel": "email"}"#)
            let linkedID = try #require(linked.json["id"] as? Int)
            for id in [namedID, linkedID] {
                #expect(try await confirm(client, try await confirmPath(client, server, request: id)).status == .ok)
            }
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email") == false)
            #expect(try await client.allowed(server, "address=%2B14155550111&channel=sms") == false)

            let own = try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: #"{"address": "ann@example.com", "contact": "crm-42", "channel": "email"}"#)
            #expect(try await confirm(client, try await confirmPath(client, server, request: try #require(own.json["id"] as? Int))).status == .ok)
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email") == true)
        }
    }

    /// DESIGN: the person opts back in "only what they opted out of themselves". What the API, a
    /// rep, an import or a CRM recorded stays through the person's confirmation (an admin with
    /// evidence lifts it); their own one-click beside it is lifted.
    @Test func aConfirmationLiftsOnlyWhatThePersonOptedOutOfThemselves() async throws {
        let server = try await TestServer()
        try await server.test { client in
            for source in ["api", "rep", "crm", "import"] {
                try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "bob@example.com", "channel": "email", "scope": "\#(source)", "source": "\#(source)"}"#)
            }
            try await client.oneClick(server, #"{"address": "bob@example.com", "channel": "email", "scope": "api"}"#)
            let created = try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: #"{"address": "bob@example.com", "channel": "email", "scope": "api"}"#)
            #expect(try await confirm(client, try await confirmPath(client, server, request: try #require(created.json["id"] as? Int))).status == .ok)
            let remaining = try await blockers(client, server, "address=bob@example.com&channel=email&scope=api")
            #expect(remaining.map { $0["source"] as? String } == ["api"], "the one-click was lifted, the API's opt-out stays")
            for source in ["rep", "crm", "import"] {
                let asked = try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: #"{"address": "bob@example.com", "channel": "email", "scope": "\#(source)"}"#)
                _ = try await confirm(client, try await confirmPath(client, server, request: try #require(asked.json["id"] as? Int)))
                #expect(try await client.allowed(server, "address=bob@example.com&channel=email&scope=\(source)") == false, "\(source)")
            }
        }
    }

    /// Where nothing is the person's own to undo, the preference center offers no "Subscribe
    /// again" and makes no request; a confirmation that lifted nothing says so.
    @Test func subscribingAgainIsOfferedOnlyForThePersonsOwnOptOuts() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "carl@example.com", "channel": "email"}"#)
            let path = try await client.unsubscribePath(server, #"{"address": "carl@example.com", "channel": "email"}"#)
            let page = try await client.page(.get, path)
            #expect(page.body.contains("You are unsubscribed") && !page.body.contains("/resubscribe"))
            let asked = try await client.page(.post, path + "/resubscribe", form: "csrf=\(try #require(page.csrf))")
            #expect(asked.status == .ok && asked.body.contains("so nothing changed"), "\(asked.body)")
            #expect((try await client.send(.get, "/v1/opt-in-requests", key: server.admin).json["requests"] as? [Any])?.isEmpty == true)

            let requested = try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: #"{"address": "carl@example.com", "channel": "email"}"#)
            let confirmed = try await confirm(client, try await confirmPath(client, server, request: try #require(requested.json["id"] as? Int)))
            #expect(confirmed.body.contains("so nothing changed"), "\(confirmed.body)")
            #expect(try await client.allowed(server, "address=carl@example.com&channel=email") == false)
        }
    }

    @Test func aMemberNeverSeesAConfirmationLink() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "email"}"#)
            let created = try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: #"{"address": "ann@example.com", "channel": "email"}"#)
            #expect(created.status == .created)
            #expect(created.json["confirm_url"] == nil)
            #expect(created.json["expires_at"] is String)
            let listed = try await client.send(.get, "/v1/opt-in-requests", key: server.member).json["requests"] as? [[String: Any]]
            #expect(listed?.count == 1)
            #expect(listed?.first?["confirm_url"] == nil)
            let admin = try await client.send(.get, "/v1/opt-in-requests", key: server.admin).json["requests"] as? [[String: Any]]
            #expect((admin?.first?["confirm_url"] as? String)?.contains("/c/") == true)
        }
    }

    @Test func aConfirmationNeverLiftsWhatWasRecordedAfterTheRequest() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.oneClick(server, #"{"address": "ann@example.com", "channel": "email", "scope": "brand"}"#)
            let created = try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: #"{"address": "ann@example.com", "channel": "email", "scope": "brand"}"#)
            let id = try #require(created.json["id"] as? Int)
            // Recorded after the request: a rep's org-wide all-channel opt-out.
            let later = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "all", "source": "rep"}"#)
            let laterEvent = try #require((later.json["events"] as? [[String: Any]])?.first?["id"] as? Int)

            #expect(try await confirm(client, try await confirmPath(client, server, request: id)).status == .ok)
            let remaining = try await blockers(client, server, "address=ann@example.com&channel=email&scope=brand")
            #expect(remaining.map { $0["event_id"] as? Int } == [laterEvent], "only the opt-out the request saw was lifted")
        }
    }

    @Test func aConfirmationDoesNotLiftAnOptOutRecordedAgainAfterItsRequest() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let json = #"{"address": "ann@example.com", "channel": "email"}"#
            try await client.send(.post, "/v1/opt-outs", key: server.member, json: json)
            let id = try #require(try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: json).json["id"] as? Int)
            let path = try await confirmPath(client, server, request: id)
            // An admin lifts it with evidence, then the person opts out again.
            try await client.send(.post, "/v1/opt-ins", key: server.admin, json: #"{"address": "ann@example.com", "channel": "email", "evidence": {"kind": "written_consent", "reference": "t-1"}}"#)
            try await client.send(.post, "/v1/opt-outs", key: server.member, json: json)
            #expect(try await confirm(client, path).status == .ok)
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email") == false)
        }
    }

    @Test func aHeldOptOutIsLiftedOnlyByAnAdminWithEvidence() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let held = #"{"address": "+14155550100", "channel": "sms", "source": "rep", "hold": true}"#
            #expect(try await client.send(.post, "/v1/opt-outs", key: server.member, json: held).status == .forbidden)
            let recorded = try await client.send(.post, "/v1/opt-outs", key: server.admin, json: held)
            #expect(recorded.status == .created)
            #expect((recorded.json["events"] as? [[String: Any]])?.first?["hold"] as? Bool == true)
            #expect(try await blockers(client, server, "address=%2B14155550100&channel=sms").first?["hold"] as? Bool == true)

            // The person's START, a trigger and a confirmation link all leave it.
            let start = #"{"channel": "sms", "from": "+14155550100", "to": "+18005551212", "body": "START"}"#
            #expect(try await client.send(.post, "/v1/inbound", key: server.inbound, json: start).status == .ok)
            let id = try #require(try await client.send(.post, "/v1/opt-in-requests", key: server.admin, json: #"{"address": "+14155550100", "channel": "sms"}"#).json["id"] as? Int)
            #expect(try await confirm(client, try await confirmPath(client, server, request: id)).status == .ok)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == false)

            let lifted = try await client.send(.post, "/v1/opt-ins", key: server.admin, json: #"{"address": "+14155550100", "channel": "sms", "evidence": {"kind": "written_consent", "reference": "ticket-9"}}"#)
            #expect(lifted.status == .ok)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == true)
        }
    }

    @Test func anExpiredConfirmationLinkShowsSoAndChangesNothing() async throws {
        let server = try await TestServer(configuration: ServerConfiguration(confirmLinkLifetime: .zero))
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "email"}"#)
            let id = try #require(try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: #"{"address": "ann@example.com", "channel": "email"}"#).json["id"] as? Int)
            let path = try await confirmPath(client, server, request: id)
            let page = try await client.page(.get, path)
            #expect(page.status == .gone)
            #expect(page.body.contains("expired"))
            #expect(try await client.page(.post, path, form: "csrf=x").status == .forbidden)
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email") == false)
        }
    }

    @Test func repeatedRequestsWhileOneIsPendingAnswerThePendingOne() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let json = #"{"address": "ann@example.com", "channel": "email", "scope": "brand"}"#
            let first = try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: json)
            let second = try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: json)
            #expect(first.status == .created)
            #expect(second.status == .ok)
            #expect(first.json["id"] as? Int == second.json["id"] as? Int)
            let other = try await client.send(.post, "/v1/opt-in-requests", key: server.member, json: #"{"address": "ann@example.com", "channel": "email"}"#)
            #expect(other.status == .created, "another scope is another request")
        }
    }

    @Test func membersCannotPostInboundMessagesOrActivities() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "+14155550100", "channel": "sms"}"#)
            let start = #"{"channel": "sms", "from": "+14155550100", "to": "+18005551212", "body": "START"}"#
            #expect(try await client.send(.post, "/v1/inbound", key: server.member, json: start).status == .forbidden)
            let activity = #"{"type": "call.logged", "address": "+14155550100", "disposition": "x"}"#
            #expect(try await client.send(.post, "/v1/activities", key: server.member, json: activity).status == .forbidden)
            #expect(try await client.send(.post, "/v1/activities", key: server.inbound, json: activity).status == .created)
            // An inbound key reaches nothing else.
            #expect(try await client.send(.get, "/v1/check?address=%2B14155550100&channel=sms", key: server.inbound).status == .forbidden)
            #expect(try await client.send(.post, "/v1/opt-outs", key: server.inbound, json: #"{"address": "+14155550100", "channel": "sms"}"#).status == .forbidden)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == false)
        }
    }

    @Test func anOptInTriggerLiftsOnlyWhatAKeywordOrTriggerStopped() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"granular_opt_outs": true}"#)
            let trigger = #"{"on": "message.received", "when": {"keyword": "YES PLEASE"}, "then": {"opt_in": {"channels": ["sms"]}}}"#
            #expect(try await client.send(.post, "/v1/triggers", key: server.admin, json: trigger).status == .created)
            try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "+14155550100", "channel": "sms", "source": "rep"}"#)
            let message = #"{"channel": "sms", "from": "+14155550100", "to": "+18005551212", "body": "yes please"}"#
            #expect(try await client.send(.post, "/v1/inbound", key: server.inbound, json: message).status == .ok)
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == false, "a rep's opt-out stands")

            let stop = #"{"channel": "sms", "from": "+14155550111", "to": "+18005551212", "body": "STOP"}"#
            #expect(try await client.send(.post, "/v1/inbound", key: server.inbound, json: stop).status == .ok)
            #expect(try await client.allowed(server, "address=%2B14155550111&channel=sms") == false)
            let yes = #"{"channel": "sms", "from": "+14155550111", "to": "+18005551212", "body": "yes please"}"#
            #expect(try await client.send(.post, "/v1/inbound", key: server.inbound, json: yes).status == .ok)
            #expect(try await client.allowed(server, "address=%2B14155550111&channel=sms") == true, "a keyword's opt-out is lifted")
        }
    }

    @Test func callersMayNameOnlyTheirOwnSources() async throws {
        let server = try await TestServer()
        try await server.test { client in
            for source in ["link", "one_click", "keyword", "preference_center", "trigger"] {
                let answer = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "email", "source": "\#(source)"}"#)
                #expect(answer.status == .badRequest)
                #expect((answer.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "source")
            }
            #expect(try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "email", "source": "crm"}"#).status == .created)
        }
    }
}
