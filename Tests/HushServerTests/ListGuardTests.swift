import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// The security review's attacks through lists and keywords: a member editing a list so an
/// opt-out stops applying, list keywords capturing STOP, a renamed list re-bound by a new one.
@Suite(.everyBackend) struct ListGuardTests {
    private func defaultListID(_ client: any TestClientProtocol, _ server: TestServer) async throws -> Int {
        let lists = try await client.send(.get, "/v1/lists", key: server.member).json["lists"] as? [[String: Any]]
        return try #require(lists?.first { $0["default"] as? Bool == true }?["id"] as? Int)
    }

    @Test func theDefaultListCoversEveryChannelAlways() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let id = try await defaultListID(client, server)
            let narrowed = try await client.send(.patch, "/v1/lists/\(id)", key: server.admin, json: #"{"channels": ["email"]}"#)
            #expect(narrowed.status == .conflict)
            #expect((narrowed.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "channels")
            #expect(try await client.send(.patch, "/v1/lists/\(id)", key: server.member, json: #"{"channels": ["email"]}"#).status == .forbidden)
            let stop = #"{"channel": "sms", "from": "+14155550100", "to": "+18005551212", "body": "STOP"}"#
            #expect(try await client.send(.post, "/v1/inbound", key: server.inbound, json: stop).json["result"] as? String == "opt_out")
            #expect(try await client.allowed(server, "address=%2B14155550100&channel=sms") == false)
        }
    }

    @Test func ctiaWordsAreNeverListKeywordsNorRemovedFromTheSettings() async throws {
        let server = try await TestServer()
        try await server.test { client in
            for word in ["STOP", "stopall", "Unsubscribe", "START", "unstop", " quit "] {
                let created = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Promos \#(word)", "keywords": ["PROMO", "\#(word)"]}"#)
                #expect(created.status == .badRequest)
                #expect((created.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "keywords[1]")
            }
            let settings = try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"keywords": {"opt_out": ["STOP", "QUIT"], "opt_in": ["START", "UNSTOP"], "help": ["HELP"]}}"#)
            #expect(settings.status == .badRequest)
            #expect((settings.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "keywords.opt_out")
            let noStart = try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"keywords": {"opt_out": ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"], "opt_in": ["UNSTOP"], "help": ["HELP"]}}"#)
            #expect((noStart.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "keywords.opt_in")
            let many = (0...50).map { "\"WORD\($0)\"" }.joined(separator: ", ")
            let tooMany = try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"keywords": {"opt_out": ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"], "opt_in": ["START", "UNSTOP"], "help": [\#(many)]}}"#)
            #expect((tooMany.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "keywords.help")
            let long = String(repeating: "A", count: 51)
            let tooLong = try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"keywords": {"opt_out": ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"], "opt_in": ["START", "UNSTOP"], "help": ["\#(long)"]}}"#)
            #expect((tooLong.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "keywords.help[0]")
            let fine = try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"keywords": {"opt_out": ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ENOUGH"], "opt_in": ["START", "UNSTOP"], "help": ["HELP"]}}"#)
            #expect(fine.status == .ok)
        }
    }

    @Test func onlyAdminsChangeWhatAListCoversOrCatches() async throws {
        let server = try await TestServer()
        try await server.test { client in
            // A list's keyword catches replies before the organization's words: a member's list
            // taking "STOP PLEASE" would leave the person opted out of that list alone.
            let catching = try await client.send(.post, "/v1/lists", key: server.member, json: #"{"name": "promo", "keywords": ["STOP PLEASE"]}"#)
            #expect(catching.status == .forbidden)
            let created = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "newsletter", "keywords": ["NEWS OFF"], "webhook_url": "https://93.184.216.34/news"}"#)
            #expect(created.status == .created)
            let id = try #require(created.json["id"] as? Int)
            // Clearing the webhook stops the list's deliveries, waiting ones too.
            #expect(try await client.send(.patch, "/v1/lists/\(id)", key: server.member, json: #"{"webhook_url": null}"#).status == .forbidden)
            for change in [#"{"name": "digest"}"#, #"{"channels": ["sms"]}"#, #"{"keywords": []}"#, #"{"public": false}"#] {
                #expect(try await client.send(.patch, "/v1/lists/\(id)", key: server.member, json: change).status == .forbidden)
            }
            #expect(try await client.send(.patch, "/v1/lists/\(id)", key: server.member, json: #"{"description": "Weekly"}"#).status == .ok)
        }
    }

    @Test func aRenamedListKeepsItsFormerNameAndChecksStillMeanIt() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let id = try #require(try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "newsletter"}"#).json["id"] as? Int)
            try await client.send(.post, "/v1/lists/\(id)/entries", key: server.member, json: #"{"entries": [{"address": "ann@example.com", "channel": "email"}]}"#)
            let renamed = try await client.send(.patch, "/v1/lists/\(id)", key: server.admin, json: #"{"name": "digest"}"#)
            #expect(renamed.json["former_names"] as? [String] == ["newsletter"])
            let squatter = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "newsletter"}"#)
            #expect(squatter.status == .conflict)
            #expect((squatter.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "name")
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email&lists=newsletter") == false)
            #expect(try await client.allowed(server, "address=ann@example.com&channel=email&lists=digest") == false)
        }
    }

    @Test func internalListsAreNotOfferedOnThePreferencePage() async throws {
        let server = try await TestServer()
        try await server.test { client in
            #expect(try await client.send(.post, "/v1/lists", key: server.member, json: #"{"name": "Ops only", "public": false}"#).status == .forbidden)
            try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Ops only", "public": false}"#)
            try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Weekly digest"}"#)
            let path = try await client.unsubscribePath(server, #"{"address": "ann@example.com", "channel": "email"}"#)
            let page = try await client.page(.get, path)
            #expect(page.body.contains("Weekly digest"))
            #expect(!page.body.contains("Ops only"))
        }
    }

    @Test func anAddressPastAThousandOptOutsIsRefusedWholeNamingTheEntry() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let id = try await defaultListID(client, server)
            let entries = (0..<1_000).map { #"{"address": "ann@example.com", "channel": "email", "scope": "s\#($0)"}"# }.joined(separator: ",")
            #expect(try await client.send(.post, "/v1/lists/\(id)/entries", key: server.member, json: #"{"entries": [\#(entries)]}"#).status == .created)
            let more = #"{"entries": [{"address": "bob@example.com", "channel": "email"}, {"address": "ann@example.com", "channel": "email", "scope": "extra"}]}"#
            let refused = try await client.send(.post, "/v1/lists/\(id)/entries", key: server.member, json: more)
            #expect(refused.status == .unprocessableContent)
            #expect((refused.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "entries[1].address")
            #expect(try await client.allowed(server, "address=bob@example.com&channel=email") == true, "nothing half-applied")
        }
    }
}
