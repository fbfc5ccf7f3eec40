import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushStore
import HushTestSupport
import Testing
@testable import HushServer

/// Read-your-writes across processes and nodes: a write answers with its ledger position, and a
/// check that passes it back answers only once its node has applied it.
@Suite(.everyBackend) struct ReadYourWritesTests {
    static func get(_ client: some TestClientProtocol, _ uri: String, key: String, headers extra: HTTPFields = [:]) async throws -> (status: HTTPResponse.Status, json: [String: Any], headers: HTTPFields) {
        var headers = extra
        headers[.authorization] = "Bearer \(key)"
        return try await client.execute(uri: uri, method: .get, headers: headers) { response in
            ((response.status), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:], response.headers)
        }
    }

    static func post(_ client: some TestClientProtocol, _ uri: String, key: String, json: String) async throws -> (status: HTTPResponse.Status, json: [String: Any], headers: HTTPFields) {
        try await client.execute(uri: uri, method: .post, headers: [.authorization: "Bearer \(key)", .contentType: "application/json"], body: ByteBuffer(string: json)) { response in
            ((response.status), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:], response.headers)
        }
    }

    static func put(_ client: some TestClientProtocol, _ uri: String, key: String, json: String) async throws -> (status: HTTPResponse.Status, json: [String: Any], headers: HTTPFields) {
        try await client.execute(uri: uri, method: .put, headers: [.authorization: "Bearer \(key)", .contentType: "application/json"], body: ByteBuffer(string: json)) { response in
            ((response.status), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:], response.headers)
        }
    }

    /// The answer's `sequence`, which its `Hush-Sequence` header must repeat.
    static func sequence(of answer: (status: HTTPResponse.Status, json: [String: Any], headers: HTTPFields), sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
        let sequence = try #require(answer.json["sequence"] as? Int, "no sequence in \(answer.json)", sourceLocation: sourceLocation)
        #expect(answer.headers[ReadYourWrites.header] == String(sequence), "Hush-Sequence repeats the body's sequence", sourceLocation: sourceLocation)
        return sequence
    }

    /// The newest ledger position among the answer's `events` (an event's id is its position).
    static func newestEvent(of answer: (status: HTTPResponse.Status, json: [String: Any], headers: HTTPFields)) -> Int? {
        (answer.json["events"] as? [[String: Any]])?.compactMap { $0["id"] as? Int }.max()
    }

    @Test func writesAnswerWithTheirLedgerPosition() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let one = try await Self.post(client, "/v1/opt-outs", key: server.admin, json: #"{"address": "a@example.com", "channel": "email"}"#)
            #expect(one.status == .created)
            let first = try #require(one.json["sequence"] as? Int)
            #expect(first == 1)
            #expect(one.headers[ReadYourWrites.header] == String(first))
            let batch = try await Self.post(client, "/v1/opt-outs", key: server.admin, json: #"{"addresses": ["b@example.com", "c@example.com"], "channel": "email"}"#)
            #expect(batch.json["sequence"] as? Int == 3, "the position after the whole batch")
            #expect((batch.json["results"] as? [[String: Any]])?.allSatisfy { $0["sequence"] == nil } == true, "once, on the whole answer")
            #expect(batch.headers[ReadYourWrites.header] == "3")
            let again = try await Self.post(client, "/v1/opt-outs", key: server.admin, json: #"{"address": "a@example.com", "channel": "email"}"#)
            #expect(again.status == .ok && again.json["sequence"] as? Int == 3, "nothing new, the position as it stands")
            let lifted = try await Self.post(client, "/v1/opt-ins", key: server.admin, json: #"{"address": "a@example.com", "channel": "email", "evidence": {"kind": "written_consent", "reference": "t-1"}}"#)
            #expect(lifted.json["sequence"] as? Int == 4)
            #expect(lifted.headers[ReadYourWrites.header] == "4")
        }
    }

    @Test func inboundReviewActivityContactAndErasureWritesAnswerWithTheirLedgerPosition() async throws {
        let server = try await TestServer(configuration: ServerConfiguration(publicURL: "https://hush.example.com"))
        @Sendable func inbound(_ body: String, from: String) -> String {
            #"{"channel": "sms", "from": "\#(from)", "to": "+18005551212", "body": "\#(body)", "provider_message_id": "SM\#(UUID().uuidString)"}"#
        }
        try await server.test { client in
            // An inbound STOP opts the sender out: its answer covers the opt-out it caused.
            let stop = try await Self.post(client, "/v1/inbound", key: server.inbound, json: inbound("STOP", from: "+14155550100"))
            #expect(stop.status == .ok)
            #expect(stop.json["result"] as? String == "opt_out")
            let stopped = try Self.sequence(of: stop)
            let stopEvent = try #require(Self.newestEvent(of: stop))
            #expect(stopped >= stopEvent)

            // A message that waits for review records nothing: the position as it stands.
            let unclear = try await Self.post(client, "/v1/inbound", key: server.inbound, json: inbound("Stop by the store tomorrow?", from: "+14155550122"))
            #expect(unclear.json["result"] as? String == "needs_review")
            #expect(try Self.sequence(of: unclear) == stopped)

            // Deciding it an opt-out writes one.
            let queue = try await Self.get(client, "/v1/review", key: server.member).json["messages"] as? [[String: Any]]
            let id = try #require(queue?.first?["id"] as? Int)
            let decided = try await Self.post(client, "/v1/review/\(id)", key: server.admin, json: #"{"decision": "opt_out"}"#)
            #expect(decided.status == .ok)
            let reviewed = try Self.sequence(of: decided)
            let reviewEvent = try #require(Self.newestEvent(of: decided))
            #expect(reviewEvent > stopped)
            #expect(reviewed >= reviewEvent)

            // A logged call matching a trigger opts the number out.
            let trigger = try await Self.post(
                client, "/v1/triggers", key: server.admin,
                json: #"{"on": "call.logged", "when": {"disposition": "Do Not Call"}, "then": {"opt_out": {"channels": ["voice"]}}}"#)
            #expect(trigger.status == .created)
            let call = try await Self.post(
                client, "/v1/activities", key: server.inbound, json: #"{"type": "call.logged", "address": "+14155550199", "disposition": "do not call"}"#)
            #expect(call.status == .created)
            let called = try Self.sequence(of: call)
            let callEvent = try #require(Self.newestEvent(of: call))
            #expect(callEvent > reviewed)
            #expect(called >= callEvent)

            // Links and erasures write no ledger event: they answer the current position.
            let linked = try await Self.put(client, "/v1/contacts/crm-1", key: server.admin, json: #"{"emails": ["ann@example.com"], "phones": ["+14155550100"]}"#)
            #expect(linked.status == .ok)
            #expect(try Self.sequence(of: linked) == called)
            let contact = try await Self.get(client, "/v1/contacts/crm-1", key: server.member)
            #expect(contact.json["sequence"] == nil && contact.headers[ReadYourWrites.header] == nil, "a read answers no position")
            let erased = try await Self.post(client, "/v1/erasures", key: server.admin, json: #"{"address": "+14155550100"}"#)
            #expect(erased.status == .ok)
            #expect(erased.json["erased"] as? Bool == true)
            #expect(try Self.sequence(of: erased) == called)

            // Twilio's webhook keeps its TwiML answer and carries the header.
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"twilio_auth_token": "12345"}"#)
            let parameters: [(name: String, value: String)] = [("From", "+14155550177"), ("To", "+18005551212"), ("Body", "STOP"), ("MessageSid", "SM77")]
            var headers = HTTPFields()
            headers[.contentType] = "application/x-www-form-urlencoded"
            headers[.twilioSignature] = TwilioSignature.compute(authToken: "12345", url: "https://hush.example.com/inbound/twilio/acme", parameters: parameters)
            let form = parameters.map { "\($0.name)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
            let twilio = try await client.execute(uri: "/inbound/twilio/acme", method: .post, headers: headers, body: ByteBuffer(string: form)) {
                ($0.status, $0.headers, String(buffer: $0.body))
            }
            #expect(twilio.0 == .ok)
            #expect(twilio.2.hasPrefix(#"<?xml version="1.0" encoding="UTF-8"?><Response>"#))
            let twilioSequence = try #require(twilio.1[ReadYourWrites.header].flatMap { Int($0) })
            #expect(twilioSequence > called, "the opt-out the STOP wrote")
        }
    }

    @Test func aCheckWaitsForThePositionItAsksForWrittenByAnotherProcess() async throws {
        let server = try await TestServer()
        // Another node writing to the same database.
        let other = try await server.anotherNode()
        _ = try await other.record(
            OptOut(subject: .address(try Address(parsing: "elsewhere@example.com")), channel: .only(.email), actor: "node-2"), in: server.acme.id)
        let position = await other.appliedSequence()
        try await server.test { client in
            let fresh = try await Self.get(client, "/v1/check?address=elsewhere@example.com&channel=email&min_sequence=\(position)", key: server.member)
            #expect(fresh.status == .ok)
            #expect(fresh.json["allowed"] as? Bool == false, "asking for the write's position reads it")
            let byHeader = try await Self.post(
                client, "/v1/check", key: server.member, json: #"{"addresses": ["elsewhere@example.com"], "channel": "email"}"#)
            #expect(byHeader.status == .ok)
            var headers = HTTPFields()
            headers[ReadYourWrites.minimumHeader] = String(position)
            let viaHeader = try await Self.get(client, "/v1/check?address=elsewhere@example.com&channel=email", key: server.member, headers: headers)
            #expect(viaHeader.json["allowed"] as? Bool == false)
        }
    }

    @Test func aPositionNotAppliedInTimeIsA503ToAskAgain() async throws {
        var configuration = ServerConfiguration()
        configuration.minimumSequenceWait = .milliseconds(50)
        let server = try await TestServer(configuration: configuration)
        try await server.test { client in
            // No write has reached this position, so no node can apply it, however fast.
            let answer = try await Self.get(client, "/v1/check?address=a@example.com&channel=email&min_sequence=1000000", key: server.member)
            #expect(answer.status == .serviceUnavailable)
            #expect(answer.headers[.retryAfter] == "1")
            #expect(answer.json["type"] as? String == "https://hush.dev/problems/not_caught_up")
            #expect((answer.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "min_sequence")
            let bad = try await Self.get(client, "/v1/check?address=a@example.com&channel=email&min_sequence=-1", key: server.member)
            #expect(bad.status == .badRequest)
            #expect((bad.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "min_sequence")
            let sends = try await Self.post(
                client, "/v1/audiences/preview?min_sequence=1000000", key: server.member, json: #"{"channel": "email", "recipients": ["a@example.com"]}"#)
            #expect(sends.status == .serviceUnavailable, "sends and previews wait too")
        }
    }

    /// A settings change on one node stays when another node, whose cached copy of the
    /// organization predates it, changes another setting a moment later.
    @Test func aSettingsChangeOnAnotherNodeIsNotUndone() async throws {
        let server = try await TestServer()
        let node = try await server.anotherNode()
        try await server.test { first in
            try await HushServer.application(store: node, configuration: server.configuration).test(.router) { second in
                let before = try await second.send(.get, "/v1/settings", key: server.admin)
                #expect(before.json["granular_opt_outs"] as? Bool == false)
                #expect(before.json["help_text"] as? String == InboundSettings.defaultHelpText)
                try await first.send(.patch, "/v1/settings", key: server.admin, json: #"{"granular_opt_outs": true, "help_text": "Call us"}"#)
                let branded = try await second.send(.patch, "/v1/settings", key: server.admin, json: #"{"brand_name": "Acme", "twilio_auth_token": "token-12345"}"#)
                #expect(branded.status == .ok)
                #expect(branded.json["granular_opt_outs"] as? Bool == true)
                #expect(branded.json["help_text"] as? String == "Call us")
                let after = try await first.send(.get, "/v1/settings", key: server.admin).json
                #expect(after["granular_opt_outs"] as? Bool == true && after["brand_name"] as? String == "Acme")
            }
        }
    }

    /// A contact link acknowledged on one node is seen by a check on another that passes the
    /// link's `sequence` as `min_sequence`, though a link records no ledger event and the other
    /// node had already applied that position.
    @Test func aLinkMadeOnAnotherNodeIsSeenByACheckWithMinSequence() async throws {
        let server = try await TestServer()
        let node = try await server.anotherNode()
        try await server.test { first in
            let stopped = try await first.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"contact": "crm-9", "channel": "all"}"#)
            let stoppedAt = try #require(stopped.json["sequence"] as? Int)
            try await HushServer.application(store: node, configuration: server.configuration).test(.router) { second in
                let before = try await Self.get(second, "/v1/check?address=new@example.com&channel=email&min_sequence=\(stoppedAt)", key: server.member)
                #expect(before.json["allowed"] as? Bool == true, "not linked yet")
                let linked = try await first.send(.put, "/v1/contacts/crm-9", key: server.admin, json: #"{"emails": ["new@example.com"]}"#)
                let sequence = try #require(linked.json["sequence"] as? Int)
                let after = try await Self.get(second, "/v1/check?address=new@example.com&channel=email&min_sequence=\(sequence)", key: server.member)
                #expect(after.json["allowed"] as? Bool == false, "the contact's opt-out covers its new address")
            }
        }
    }
}
