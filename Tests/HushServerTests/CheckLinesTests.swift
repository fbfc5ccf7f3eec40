import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// `POST /v1/check` in its compact form: an address a line in (`text/plain`), a verdict a line out,
/// in input order, decided as the JSON form decides.
@Suite(.everyBackend) struct CheckLinesTests {
    func lines(
        _ client: some TestClientProtocol, _ query: String, key: String, body: String, contentType: String = "text/plain"
    ) async throws -> (status: HTTPResponse.Status, text: String, contentType: String?) {
        let headers: HTTPFields = [.authorization: "Bearer \(key)", .contentType: contentType]
        return try await client.execute(uri: "/v1/check" + query, method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            (response.status, String(buffer: response.body), response.headers[.contentType])
        }
    }

    @Test func aVerdictALineInInputOrder() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"addresses": ["b@example.com", "+14155550100"], "channel": "all"}"#)
            let body = "a@example.com\r\nB@Example.com\nnot an address\n\n+14155550100\nc@example.com\n"
            let answer = try await lines(client, "?channel=email", key: server.member, body: body, contentType: "text/plain; charset=utf-8")
            #expect(answer.status == .ok)
            #expect(answer.contentType == "text/plain; charset=utf-8")
            let verdicts = answer.text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.split(separator: "\t").first.map(String.init) ?? "" }
            #expect(verdicts == ["allowed", "blocked", "invalid", "invalid", "invalid", "allowed", ""], "\(answer.text)")
            #expect(answer.text.contains("invalid\temail sends to email addresses"), "a phone number on the email channel says why")

            // The JSON form decides the same addresses alike.
            let json = try await client.send(.post, "/v1/check", key: server.member, json: #"{"channel": "email", "addresses": ["a@example.com", "B@Example.com", "c@example.com"]}"#)
            #expect(json.json["allowed"] as? [String] == ["a@example.com", "c@example.com"])

            // An error quotes its input with any control character or line separator as a space,
            // so every verdict stays on its own line whatever the client splits lines on.
            let quoted = try await lines(client, "?channel=email", key: server.member, body: "a\rb\u{2028}c\u{85}d\n")
            #expect(quoted.text.hasPrefix("invalid\t") && quoted.text.hasSuffix("\n"), "\(quoted.text)")
            #expect(!quoted.text.dropLast().contains { $0.isNewline }, "\(quoted.text.debugDescription)")

            // The last line needs no ending; sms reads the phone number.
            let sms = try await lines(client, "?channel=sms", key: server.member, body: "+14155550100\n+14155550101")
            #expect(sms.text == "blocked\nallowed\n")
        }
    }

    @Test func scopeAndListsComeFromTheQuery() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let list = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "newsletter"}"#)
            #expect(list.status == .created)
            try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "email", "list": "newsletter"}"#)
            try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "bob@example.com", "channel": "email", "scope": "brand"}"#)
            let body = "ann@example.com\nbob@example.com\n"
            #expect(try await lines(client, "?channel=email", key: server.member, body: body).text == "allowed\nallowed\n")
            #expect(try await lines(client, "?channel=email&lists=newsletter", key: server.member, body: body).text == "blocked\nallowed\n")
            #expect(try await lines(client, "?channel=email&scope=brand/rep-1", key: server.member, body: body).text == "allowed\nblocked\n")
        }
    }

    @Test func badRequestsNameTheirField() async throws {
        let server = try await TestServer()
        try await server.test { client in
            for (query, body, field) in [
                ("", "a@example.com\n", "channel"), ("?channel=fax", "a@example.com\n", "channel"),
                ("?channel=email", "", "body"), ("?channel=email", "a@example.com\n\u{FF}\n", "body"),
                ("?channel=email", String(repeating: "a@example.com\n", count: V1Routes.maximumBatchAddresses + 1), "body"),
                ("?channel=email&lists=default&lists=default", "a@example.com\n", "lists"), ("?channel=email&list=default", "a@example.com\n", "list"),
            ] {
                let answer = try await client.execute(
                    uri: "/v1/check" + query, method: .post, headers: [.authorization: "Bearer \(server.member)", .contentType: "text/plain"],
                    body: ByteBuffer(bytes: body == "a@example.com\n\u{FF}\n" ? Array("a@example.com\n".utf8) + [0xFF, 0x0A] : Array(body.utf8))
                ) { response in
                    (response.status, (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
                }
                #expect(answer.0 == .badRequest, "\(query) \(body.prefix(20))")
                let fields = (answer.1["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String }
                #expect(fields == [field], "\(query) \(body.prefix(20)): \(answer.1)")
            }
            // A list that does not exist is answered as GET /v1/check answers it.
            let unknownList = try await lines(client, "?channel=email&lists=nope", key: server.member, body: "a@example.com")
            let single = try await client.send(.get, "/v1/check?address=a@example.com&channel=email&lists=nope", key: server.member)
            #expect(unknownList.status == single.status && single.status != .ok)
            let unauthenticated = try await client.execute(uri: "/v1/check?channel=email", method: .post, headers: [.contentType: "text/plain"], body: ByteBuffer(string: "a@example.com")) { $0.status }
            #expect(unauthenticated == .unauthorized)
        }
    }
}
