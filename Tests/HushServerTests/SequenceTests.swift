import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// Rulesets with the seed's examples: an email opt-out under skip_steps still makes the calls;
/// any opt-out under finish finishes the prospect; only an opt-out during the sequence changes
/// the stage.
@Suite(.everyBackend) struct SequenceTests {
    static let steps = #"[{"id": "1", "channel": "email"}, {"id": "2", "channel": "voice", "due_at": "2026-12-01T09:00:00Z"}, {"id": "3", "channel": "email"}]"#

    static func evaluate(
        _ client: some TestClientProtocol, _ server: TestServer, ruleset: String, enrolledAt: Date, extra: String = ""
    ) async throws -> [String: Any] {
        let answer = try await client.send(.post, "/v1/sequences/evaluate", key: server.member, json: """
            {"ruleset": "\(ruleset)", "enrolled_at": "\(Timestamp.format(enrolledAt))", "scope": "acme",
             "addresses": {"email": "pro@example.com", "phone": "+14155550100"}, "steps": \(steps)\(extra)}
            """)
        #expect(answer.status == .ok)
        return answer.json
    }

    static func actions(_ evaluation: [String: Any]) -> [String] {
        (evaluation["steps"] as? [[String: Any]] ?? []).map { "\($0["action"] as? String ?? "?")/\($0["reason"] as? String ?? "-")" }
    }

    @Test func rulesetsAreManagedByAdmins() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let created = try await client.send(.post, "/v1/rulesets", key: server.admin, json: #"{"name": "Default", "on_opt_out": "skip_steps"}"#)
            #expect(created.status == .created)
            #expect(created.json["opted_out_stage"] as? String == "Opted Out")
            let id = try #require(created.json["id"] as? Int)
            #expect(try await client.send(.post, "/v1/rulesets", key: server.admin, json: #"{"name": "Default", "on_opt_out": "finish"}"#).status == .conflict)
            #expect(try await client.send(.post, "/v1/rulesets", key: server.member, json: #"{"name": "Mine", "on_opt_out": "finish"}"#).status == .forbidden)
            #expect(try await client.send(.post, "/v1/rulesets", key: server.admin, json: #"{"name": "Bad", "on_opt_out": "pause"}"#).status == .badRequest)
            let changed = try await client.send(.patch, "/v1/rulesets/\(id)", key: server.admin, json: #"{"on_opt_out": "finish", "opted_out_stage": "Do Not Contact"}"#)
            #expect(changed.json["on_opt_out"] as? String == "finish" && changed.json["name"] as? String == "Default")
            #expect(try await client.send(.get, "/v1/rulesets/Default", key: server.member).json["opted_out_stage"] as? String == "Do Not Contact")
            #expect(try await client.send(.get, "/v1/rulesets/\(id)", key: server.otherAdmin).status == .notFound)
            #expect(try await client.send(.delete, "/v1/rulesets/\(id)", key: server.admin).status == .noContent)
            #expect((try await client.send(.get, "/v1/rulesets", key: server.member).json["rulesets"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func skipStepsSkipsOnlyTheOptedOutChannel() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/rulesets", key: server.admin, json: #"{"name": "Skip", "on_opt_out": "skip_steps"}"#)
            let enrolled = Date().addingTimeInterval(-86_400)
            let clean = try await Self.evaluate(client, server, ruleset: "Skip", enrolledAt: enrolled)
            #expect(Self.actions(clean) == ["send/-", "send/-", "send/-"])

            // The prospect opts out of email during the sequence: the calls are still made.
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "pro@example.com", "channel": "email", "source": "rep"}"#)
            let during = try await Self.evaluate(client, server, ruleset: "Skip", enrolledAt: enrolled)
            #expect(Self.actions(during) == ["skip/optout_email", "send/-", "skip/optout_email"])
            #expect(during["finished"] as? Bool == false)
            #expect(during["stage_change"] as? String == "Opted Out")
            let first = (during["steps"] as? [[String: Any]])?.first
            #expect((first?["blocked_by"] as? [[String: Any]])?.first?["source"] as? String == "rep", "why-blocked")

            // Enrolled after that opt-out: the steps are skipped but no stage changes.
            let later = try await Self.evaluate(client, server, ruleset: "Skip", enrolledAt: Date().addingTimeInterval(60))
            #expect(Self.actions(later) == ["skip/optout_email", "send/-", "skip/optout_email"])
            #expect(later["stage_change"] is NSNull)
        }
    }

    @Test func finishEndsTheProspectOnAnyOptOut() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/rulesets", key: server.admin, json: #"{"name": "Stop", "on_opt_out": "finish", "opted_out_stage": "Do Not Contact"}"#)
            let enrolled = Date().addingTimeInterval(-86_400)
            // An opt-out from texts, a channel no step uses, still finishes the prospect.
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "+14155550100", "channel": "sms"}"#)
            let finished = try await Self.evaluate(client, server, ruleset: "Stop", enrolledAt: enrolled)
            #expect(Self.actions(finished) == ["skip/finished", "skip/finished", "skip/finished"])
            #expect(finished["finished"] as? Bool == true)
            #expect(finished["stage_change"] as? String == "Do Not Contact")

            let before = try await Self.evaluate(client, server, ruleset: "Stop", enrolledAt: Date().addingTimeInterval(60))
            #expect(before["finished"] as? Bool == true)
            #expect(before["stage_change"] is NSNull, "an opt-out before enrolment changes no stage")
        }
    }

    @Test func aContactsAddressesAreUsedAndBadInputIsNamed() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/rulesets", key: server.admin, json: #"{"name": "Skip", "on_opt_out": "skip_steps"}"#)
            try await client.send(.put, "/v1/contacts/crm-9", key: server.admin, json: #"{"emails": ["c9@example.com"]}"#)
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"contact": "crm-9", "channel": "email"}"#)
            let answer = try await client.send(.post, "/v1/sequences/evaluate", key: server.member, json: """
                {"ruleset": "Skip", "enrolled_at": "2020-01-01T00:00:00Z", "contact": "crm-9", "steps": \(Self.steps)}
                """)
            #expect(Self.actions(answer.json) == ["skip/optout_email", "skip/no_address", "skip/optout_email"])

            // A contact with two emails, one of them opted out on its own (an `api` opt-out
            // keeps to its address): the platform may use either, so the email steps are skipped.
            try await client.send(.put, "/v1/contacts/crm-10", key: server.admin, json: #"{"emails": ["first@example.com", "second@example.com"], "phones": ["+14155550111"]}"#)
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "second@example.com", "channel": "email"}"#)
            let either = try await client.send(.post, "/v1/sequences/evaluate", key: server.member, json: """
                {"ruleset": "Skip", "enrolled_at": "2020-01-01T00:00:00Z", "contact": "crm-10", "steps": \(Self.steps)}
                """)
            #expect(Self.actions(either.json) == ["skip/optout_email", "send/-", "skip/optout_email"], "\(either.json)")
            // Erased, the opted-out address still decides the email steps, under its hash.
            #expect(try await client.send(.post, "/v1/erasures", key: server.admin, json: #"{"address": "second@example.com"}"#).status == .ok)
            let erased = try await client.send(.post, "/v1/sequences/evaluate", key: server.member, json: """
                {"ruleset": "Skip", "enrolled_at": "2020-01-01T00:00:00Z", "contact": "crm-10", "steps": \(Self.steps)}
                """)
            #expect(Self.actions(erased.json) == ["skip/optout_email", "send/-", "skip/optout_email"], "\(erased.json)")
            #expect(!"\(erased.json)".contains("second@example.com"))

            func field(_ json: String) async throws -> String? {
                let answer = try await client.send(.post, "/v1/sequences/evaluate", key: server.member, json: json)
                return (answer.json["errors"] as? [[String: Any]])?.first?["field"] as? String
            }
            #expect(try await field(#"{"ruleset": "Skip", "enrolled_at": "2020-01-01T00:00:00Z", "addresses": {"email": "x@example.com"}, "steps": [{"id": "1", "channel": "fax"}]}"#) == "steps[0].channel")
            #expect(try await field(#"{"ruleset": "Skip", "enrolled_at": "2020-01-01T00:00:00Z", "addresses": {"email": "+14155550100"}, "steps": [{"id": "1", "channel": "email"}]}"#) == "addresses.email")
            #expect(try await field(#"{"ruleset": "Skip", "enrolled_at": "2020-01-01T00:00:00Z", "steps": [{"id": "1", "channel": "email"}]}"#) == "contact")
            #expect(try await client.send(.post, "/v1/sequences/evaluate", key: server.member, json: #"{"ruleset": "Nope", "enrolled_at": "2020-01-01T00:00:00Z", "contact": "x", "steps": [{"id": "1", "channel": "email"}]}"#).status == .notFound)
        }
    }
}
