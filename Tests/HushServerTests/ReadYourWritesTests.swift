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
}
