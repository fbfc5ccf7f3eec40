import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// The why-blocked trace (`blocked_by`) names each blocking list by id and by name, wherever a
/// check is answered: a check, a batch check, a send and a sequence.
@Suite(.everyBackend) struct WhyBlockedTests {
    struct Block: Decodable, Equatable {
        let list: Int64
        let listName: String

        enum CodingKeys: String, CodingKey {
            case list
            case listName = "list_name"
        }
    }

    struct Check: Decodable {
        let blockedBy: [Block]

        enum CodingKeys: String, CodingKey {
            case blockedBy = "blocked_by"
        }
    }

    struct BatchCheck: Decodable {
        let blocked: [Check]
    }

    struct Sent: Decodable {
        let id: Int64
        let blocked: [Check]
    }

    struct Report: Decodable {
        let entries: [Check]
    }

    struct Sequence: Decodable {
        let steps: [Check]
    }

    /// Sends a request and decodes its answer, which must be 2xx.
    static func answer<Answer: Decodable>(
        _ type: Answer.Type, _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, key: String, json: String? = nil
    ) async throws -> Answer {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(key)"
        if json != nil { headers[.contentType] = "application/json" }
        let (status, body) = try await client.execute(
            uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }
        ) { response in (response.status, Data(buffer: response.body)) }
        try #require((200..<300).contains(status.code), "\(method) \(uri): \(status) \(String(decoding: body, as: UTF8.self))")
        return try JSONDecoder().decode(Answer.self, from: body)
    }

    /// A list named `newsletter` and Ann opted out of it and of `default`; the newsletter's id.
    static func annOptedOut(_ client: some TestClientProtocol, _ server: TestServer) async throws -> Int64 {
        let created = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "newsletter"}"#)
        let id = try #require(created.json["id"] as? Int)
        try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "email"}"#)
        try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "email", "list": "newsletter"}"#)
        return Int64(id)
    }

    @Test func aCheckNamesEachBlockingList() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let newsletter = try await Self.annOptedOut(client, server)
            let expected = [Block(list: server.acme.defaultList.rawValue, listName: "default"), Block(list: newsletter, listName: "newsletter")]

            let check = try await Self.answer(Check.self, client, .get, "/v1/check?address=ann@example.com&channel=email&lists=newsletter", key: server.member)
            #expect(check.blockedBy == expected)
            let now = Timestamp.format(Date().addingTimeInterval(1))
            let past = try await Self.answer(Check.self, client, .get, "/v1/check?address=ann@example.com&channel=email&lists=newsletter&at=\(now)", key: server.member)
            #expect(past.blockedBy == expected)
            let batch = try await Self.answer(
                BatchCheck.self, client, .post, "/v1/check", key: server.member,
                json: #"{"channel": "email", "lists": ["newsletter"], "addresses": ["ann@example.com", "bob@example.com"]}"#)
            #expect(batch.blocked.map(\.blockedBy) == [expected])
        }
    }

    @Test func aRenamedListIsNamedByItsNewNameAtOnce() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let newsletter = try await Self.annOptedOut(client, server)
            #expect(try await client.send(.patch, "/v1/lists/\(newsletter)", key: server.admin, json: #"{"name": "digest"}"#).status == .ok)
            let check = try await Self.answer(Check.self, client, .get, "/v1/check?address=ann@example.com&channel=email&lists=digest", key: server.member)
            #expect(check.blockedBy.map(\.listName) == ["default", "digest"])
        }
    }

    @Test func sendsAndSequencesNameEachBlockingList() async throws {
        let server = try await TestServer()
        try await server.test { client in
            _ = try await Self.annOptedOut(client, server)
            let send = try await Self.answer(
                Sent.self, client, .post, "/v1/sends", key: server.member,
                json: #"{"channel": "email", "lists": ["newsletter"], "recipients": ["ann@example.com"]}"#)
            #expect(send.blocked.map { $0.blockedBy.map(\.listName) } == [["default", "newsletter"]])
            let report = try await Self.answer(Report.self, client, .get, "/v1/sends/\(send.id)/report", key: server.member)
            #expect(report.entries.map { $0.blockedBy.map(\.listName) } == [["default", "newsletter"]])
            let csv = try await client.execute(
                uri: "/v1/sends/\(send.id)/report.csv", method: .get, headers: [.authorization: "Bearer \(server.member)"]
            ) { String(buffer: $0.body) }
            let rows = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            let column = try #require(rows.first?.firstIndex(of: "list_name"))
            #expect(rows.dropFirst().map { $0[column] } == ["default"], "the first blocking suppression's list")
            let preview = try await Self.answer(
                BatchCheck.self, client, .post, "/v1/audiences/preview", key: server.member,
                json: #"{"channel": "email", "recipients": ["ann@example.com"]}"#)
            #expect(preview.blocked.map { $0.blockedBy.map(\.listName) } == [["default"]])

            try await client.send(.post, "/v1/rulesets", key: server.admin, json: #"{"name": "Skip", "on_opt_out": "skip_steps"}"#)
            let sequence = try await Self.answer(
                Sequence.self, client, .post, "/v1/sequences/evaluate", key: server.member, json: """
                    {"ruleset": "Skip", "enrolled_at": "2026-01-01T00:00:00Z", "lists": ["newsletter"],
                     "addresses": {"email": "ann@example.com"}, "steps": [{"id": "1", "channel": "email"}]}
                    """)
            #expect(sequence.steps.map { $0.blockedBy.map(\.listName) } == [["default", "newsletter"]])
        }
    }
}
