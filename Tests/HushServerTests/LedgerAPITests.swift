import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

@Suite(.everyBackend) struct LedgerAPITests {
    @Test func anAddressShowsEverySuppressionAndItsHistory() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "+1 415 555 0100", "channel": "sms"}"#)
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "+14155550100", "channel": "voice", "scope": "brand"}"#)
            try await client.send(.post, "/v1/opt-ins", key: server.admin, json: #"{"address": "+14155550100", "channel": "sms", "evidence": {"kind": "written_consent", "reference": "form-1"}}"#)

            let shown = try await client.send(.get, "/v1/addresses/%2B1%20415%20555%200100", key: server.member)
            #expect(shown.status == .ok)
            #expect(shown.json["address"] as? String == "+14155550100")
            #expect(shown.json["kind"] as? String == "phone")
            let suppressions = shown.json["suppressions"] as? [[String: Any]]
            #expect(suppressions?.count == 1)
            #expect(suppressions?.first?["channel"] as? String == "voice")
            #expect(suppressions?.first?["scope"] as? String == "brand")
            let types = (shown.json["events"] as? [[String: Any]])?.compactMap { $0["type"] as? String }
            #expect(types == ["opt_out", "opt_out", "opt_in"])

            let elsewhere = try await client.send(.get, "/v1/addresses/%2B14155550100", key: server.otherAdmin)
            #expect((elsewhere.json["suppressions"] as? [Any])?.isEmpty == true)
            #expect((elsewhere.json["events"] as? [Any])?.isEmpty == true)
            let bad = try await client.send(.get, "/v1/addresses/not-an-address", key: server.member)
            #expect(bad.status == .badRequest)
            #expect(((bad.json["errors"] as? [[String: Any]])?.first?["field"] as? String) == "address")
        }
    }

    @Test func contactsLinkAddressesAndCarryOptOuts() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let linked = try await client.send(.put, "/v1/contacts/crm-42", key: server.member, json: #"{"emails": ["Ann@Example.com"], "phones": ["+1 415 555 0111"]}"#)
            #expect(linked.status == .ok)
            #expect(linked.json["id"] as? String == "crm-42")
            #expect(linked.json["emails"] as? [String] == ["ann@example.com"])
            #expect(linked.json["phones"] as? [String] == ["+14155550111"])
            // PUT again adds; links are never dropped.
            let more = try await client.send(.put, "/v1/contacts/crm-42", key: server.member, json: #"{"emails": ["ann@work.example"]}"#)
            #expect(more.json["emails"] as? [String] == ["ann@example.com", "ann@work.example"])
            #expect(try await client.send(.get, "/v1/contacts/crm-42", key: server.member).json["phones"] as? [String] == ["+14155550111"])

            try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"contact": "crm-42", "channel": "all"}"#)
            let check = try await client.send(.get, "/v1/check?address=ann@work.example&channel=email", key: server.member)
            #expect(check.json["allowed"] as? Bool == false)
            #expect(((check.json["blocked_by"] as? [[String: Any]])?.first?["contact"] as? String) == "crm-42")

            #expect(try await client.send(.get, "/v1/contacts/crm-42", key: server.otherAdmin).status == .notFound)
            #expect(try await client.send(.get, "/v1/contacts/nobody", key: server.member).status == .notFound)
            let wrongKind = try await client.send(.put, "/v1/contacts/crm-43", key: server.member, json: #"{"phones": ["ann@example.com"]}"#)
            #expect(wrongKind.status == .badRequest)
            #expect(((wrongKind.json["errors"] as? [[String: Any]])?.first?["field"] as? String) == "phones[0]")
            let badEmail = try await client.send(.put, "/v1/contacts/crm-43", key: server.member, json: #"{"emails": ["ok@example.com", "x@"]}"#)
            #expect(((badEmail.json["errors"] as? [[String: Any]])?.first?["field"] as? String) == "emails[1]")
            #expect(try await client.send(.get, "/v1/contacts/crm-43", key: server.member).status == .notFound, "nothing half-applied")
        }
    }

    @Test func eventsArePagedByCursorOldestFirst() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let addresses = (0..<25).map { "\"e\($0)@example.com\"" }.joined(separator: ",")
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"addresses": [\#(addresses)], "channel": "email"}"#)
            try await client.send(.post, "/v1/opt-outs", key: server.otherAdmin, json: #"{"address": "theirs@example.com", "channel": "email"}"#)

            var ids: [Int] = []
            var after = "0"
            for _ in 0..<3 {
                let page = try await client.send(.get, "/v1/events?limit=10&after=\(after)", key: server.member)
                #expect(page.status == .ok)
                ids += (page.json["events"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
                after = try #require(page.json["next_cursor"] as? String)
            }
            #expect(ids.count == 25)
            #expect(ids == ids.sorted())
            let tail = try await client.send(.get, "/v1/events?after=\(after)", key: server.member)
            #expect((tail.json["events"] as? [Any])?.isEmpty == true)
            #expect(tail.json["next_cursor"] as? String == after, "a poller keeps its place")

            let one = try await client.send(.get, "/v1/events?address=E3@example.com", key: server.member)
            #expect((one.json["events"] as? [[String: Any]])?.compactMap { $0["address"] as? String } == ["e3@example.com"])
            let theirs = try await client.send(.get, "/v1/events", key: server.otherAdmin)
            #expect((theirs.json["events"] as? [[String: Any]])?.compactMap { $0["address"] as? String } == ["theirs@example.com"])
            // An empty page from the start repeats the cursor 0: a poller never meets a null.
            let none = try await client.send(.get, "/v1/events?address=nobody@example.com", key: server.member)
            #expect((none.json["events"] as? [Any])?.isEmpty == true && none.json["next_cursor"] as? String == "0")
            #expect(try await client.send(.get, "/v1/events?limit=5000", key: server.member).status == .badRequest)
            #expect(try await client.send(.get, "/v1/events?after=-1", key: server.member).status == .badRequest)
        }
    }
}
