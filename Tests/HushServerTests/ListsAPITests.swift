import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

@Suite(.everyBackend) struct ListsAPITests {
    private func field(_ response: (status: HTTPResponse.Status, json: [String: Any], contentType: String?)) -> String? {
        (response.json["errors"] as? [[String: Any]])?.first?["field"] as? String
    }

    @Test func listsAreCreatedReadChangedAndDeleted() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let created = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Promotions", "keywords": ["promo stop"], "message": "No more promotions.", "channels": ["sms", "whatsapp"]}"#)
            #expect(created.status == .created)
            let id = try #require(created.json["id"] as? Int)
            #expect(created.json["keywords"] as? [String] == ["PROMO STOP"])
            #expect(created.json["channels"] as? [String] == ["sms", "whatsapp"])
            #expect(created.json["default"] as? Bool == false)
            #expect(created.json.keys.contains("webhook_url"))

            let all = try await client.send(.get, "/v1/lists", key: server.member)
            let names = (all.json["lists"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(names == ["default", "Promotions"])

            let renamed = try await client.send(.patch, "/v1/lists/\(id)", key: server.admin, json: #"{"name": "Offers", "message": null}"#)
            #expect(renamed.status == .ok)
            #expect(renamed.json["name"] as? String == "Offers")
            #expect(renamed.json["message"] is NSNull)
            #expect(renamed.json["keywords"] as? [String] == ["PROMO STOP"], "absent fields are kept")
            #expect(try await client.send(.get, "/v1/lists/\(id)", key: server.member).json["name"] as? String == "Offers")

            let duplicate = try await client.send(.post, "/v1/lists", key: server.member, json: #"{"name": "Offers"}"#)
            #expect(duplicate.status == .conflict)
            #expect(field(duplicate) == "name")
            let taken = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Other", "keywords": ["Promo Stop"]}"#)
            #expect(taken.status == .conflict)
            #expect(field(taken) == "keywords[0]")

            #expect(try await client.send(.delete, "/v1/lists/\(id)", key: server.member).status == .forbidden)
            #expect(try await client.send(.delete, "/v1/lists/\(id)", key: server.admin).status == .noContent)
            #expect(try await client.send(.get, "/v1/lists/\(id)", key: server.member).status == .notFound)
            // Its keyword is free again.
            #expect(try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Other", "keywords": ["PROMO STOP"]}"#).status == .created)
            // Its name is not: a new "Offers" would make checks naming it mean a list without its opt-outs.
            let again = try await client.send(.post, "/v1/lists", key: server.member, json: #"{"name": "Offers"}"#)
            #expect(again.status == .conflict && field(again) == "name")
            #expect(try await client.send(.get, "/v1/check?address=a@example.com&channel=email&lists=Offers", key: server.member).status == .notFound)

            let defaultID = server.acme.defaultList.rawValue
            let deleteDefault = try await client.send(.delete, "/v1/lists/\(defaultID)", key: server.admin)
            #expect(deleteDefault.status == .conflict)
            #expect(deleteDefault.contentType == "application/problem+json")
            #expect(try await client.send(.patch, "/v1/lists/\(defaultID)", key: server.admin, json: #"{"name": "renamed"}"#).status == .conflict)
        }
    }

    @Test func badListInputNamesTheField() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let cases: [(String, String)] = [
                (#"{}"#, "name"),
                (#"{"name": ""}"#, "name"),
                (#"{"name": "x", "colour": "red"}"#, "colour"),
                (#"{"name": "x", "channels": ["sms", "fax"]}"#, "channels[1]"),
                (#"{"name": "x", "channels": []}"#, "channels"),
                (#"{"name": "x", "webhook_url": "ftp://example.com"}"#, "webhook_url"),
                (#"{"name": "x", "description": "\#(String(repeating: "d", count: 301))"}"#, "description"),
            ]
            for (body, expected) in cases {
                let response = try await client.send(.post, "/v1/lists", key: server.admin, json: body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(field(response) == expected, "\(body)")
            }
            #expect(try await client.send(.get, "/v1/lists/not-a-number", key: server.admin).status == .notFound)
        }
    }

    @Test func foreignListsAreNotFound() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let created = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Mine"}"#)
            let id = try #require(created.json["id"] as? Int)
            let entry = #"{"entries": [{"address": "a@example.com", "channel": "email"}]}"#
            let consent = #"{"entries": [{"address": "a@example.com", "channel": "email"}], "evidence": {"kind": "k", "reference": "r"}}"#
            #expect(try await client.send(.get, "/v1/lists/\(id)", key: server.otherAdmin).status == .notFound)
            #expect(try await client.send(.patch, "/v1/lists/\(id)", key: server.otherAdmin, json: #"{"name": "Theirs"}"#).status == .notFound)
            #expect(try await client.send(.delete, "/v1/lists/\(id)", key: server.otherAdmin).status == .notFound)
            #expect(try await client.send(.post, "/v1/lists/\(id)/entries", key: server.otherAdmin, json: entry).status == .notFound)
            #expect(try await client.send(.delete, "/v1/lists/\(id)/entries", key: server.otherAdmin, json: consent).status == .notFound)
            #expect(try await client.send(.get, "/v1/lists/\(id)/entries", key: server.otherAdmin).status == .notFound)
            let theirs = try await client.send(.get, "/v1/lists", key: server.otherAdmin)
            #expect((theirs.json["lists"] as? [[String: Any]])?.count == 1)
            #expect(try await client.send(.get, "/v1/lists/\(id)", key: nil).status == .unauthorized)
        }
    }

    @Test func entriesAreAddedPagedAndRemovedWithConsent() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let created = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Newsletter", "channels": ["email"]}"#)
            let id = try #require(created.json["id"] as? Int)
            let entries = (0..<250).map { #"{"address": "p\#($0)@example.com", "channel": "email"}"# }.joined(separator: ",")
            let added = try await client.send(.post, "/v1/lists/\(id)/entries", key: server.member, json: #"{"entries": [\#(entries)], "reason": "list cleanup"}"#)
            #expect(added.status == .created)
            #expect((added.json["results"] as? [Any])?.count == 250)
            let again = try await client.send(.post, "/v1/lists/\(id)/entries", key: server.member, json: #"{"entries": [{"address": "P0@example.com", "channel": "email"}]}"#)
            #expect(again.status == .ok)

            // The list blocks only senders that honour it.
            let withList = try await client.send(.get, "/v1/check?address=p7@example.com&channel=email&lists=Newsletter", key: server.member)
            #expect(withList.json["allowed"] as? Bool == false)
            let withoutList = try await client.send(.get, "/v1/check?address=p7@example.com&channel=email", key: server.member)
            #expect(withoutList.json["allowed"] as? Bool == true)

            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await client.send(.get, "/v1/lists/\(id)/entries?limit=100" + (cursor.map { "&cursor=\($0)" } ?? ""), key: server.member)
                #expect(page.status == .ok)
                seen += (page.json["entries"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String }
                cursor = page.json["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 3)
            #expect(seen == (0..<250).map { "p\($0)@example.com" })

            let removal = #"{"entries": [{"address": "p7@example.com", "channel": "email"}, {"address": "p8@example.com", "channel": "email"}], "evidence": {"kind": "written_consent", "reference": "ticket-9"}}"#
            #expect(try await client.send(.delete, "/v1/lists/\(id)/entries", key: server.member, json: removal).status == .forbidden)
            let noEvidence = try await client.send(.delete, "/v1/lists/\(id)/entries", key: server.admin, json: #"{"entries": [{"address": "p7@example.com", "channel": "email"}]}"#)
            #expect(noEvidence.status == .unprocessableContent)
            let removed = try await client.send(.delete, "/v1/lists/\(id)/entries", key: server.admin, json: removal)
            #expect(removed.status == .ok)
            let results = removed.json["results"] as? [[String: Any]]
            #expect(results?.count == 2)
            #expect((results?.first?["event"] as? [String: Any])?["type"] as? String == "opt_in")
            let lifted = try await client.send(.get, "/v1/check?address=p7@example.com&channel=email&lists=Newsletter", key: server.member)
            #expect(lifted.json["allowed"] as? Bool == true)
            let rest = try await client.send(.get, "/v1/lists/\(id)/entries?limit=1000", key: server.member)
            #expect((rest.json["entries"] as? [Any])?.count == 248)
            #expect(rest.json["next_cursor"] is NSNull)
        }
    }

    @Test func entryBatchesAreAllOrNothing() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let created = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Texts", "channels": ["sms"]}"#)
            let id = try #require(created.json["id"] as? Int)
            let cases: [(String, String)] = [
                (#"{"entries": [{"address": "+14155550100", "channel": "sms"}, {"address": "nope", "channel": "sms"}]}"#, "entries[1].address"),
                (#"{"entries": [{"address": "+14155550100", "channel": "sms", "adress": "x"}]}"#, "entries[0].adress"),
                (#"{"entries": [{"address": "+14155550100", "channel": "sms"}, {"address": "+14155550101", "channel": "email"}]}"#, "entries[1].channel"),
                (#"{"entries": []}"#, "entries"),
            ]
            for (body, expected) in cases {
                let response = try await client.send(.post, "/v1/lists/\(id)/entries", key: server.admin, json: body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(field(response) == expected, "\(body)")
            }
            let page = try await client.send(.get, "/v1/lists/\(id)/entries", key: server.admin)
            #expect((page.json["entries"] as? [Any])?.isEmpty == true, "nothing was half-applied")
            #expect(try await client.send(.get, "/v1/lists/\(id)/entries?limit=0", key: server.admin).status == .badRequest)
            #expect(try await client.send(.get, "/v1/lists/\(id)/entries?cursor=abc", key: server.admin).status == .badRequest)
        }
    }
}
