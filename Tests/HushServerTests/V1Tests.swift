import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

@Suite(.everyBackend) struct V1Tests {
    @Test func healthAndOpenAPIAreServed() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let health = try await client.send(.get, "/health", key: nil)
            #expect(health.status == .ok)
            #expect(health.json["status"] as? String == "ok")
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.hasPrefix("openapi: 3.1.0"))
                for path in ["/v1/opt-outs:", "/v1/opt-ins:", "/v1/check:", "/v1/settings:"] {
                    #expect(text.contains(path), "the document lacks \(path)")
                }
            }
        }
    }

    @Test func optOutThenCheckIsBlocked() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let first = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": " Ann@Example.com ", "channel": "email", "scope": "brand", "reason": "asked on a call"}"#)
            #expect(first.status == .created)
            let events = first.json["events"] as? [[String: Any]]
            #expect(events?.count == 1)
            #expect((events?.first?["evidence"] as? [String: Any])?["reason"] as? String == "asked on a call")
            let again = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "email", "scope": "brand"}"#)
            #expect(again.status == .ok)
            #expect((again.json["events"] as? [Any])?.isEmpty == true)

            let blocked = try await client.send(.get, "/v1/check?address=ANN@example.com&channel=email&scope=brand/alice", key: server.member)
            #expect(blocked.status == .ok)
            #expect(blocked.json["address"] as? String == "ann@example.com")
            #expect(blocked.json["allowed"] as? Bool == false)
            let block = (blocked.json["blocked_by"] as? [[String: Any]])?.first
            #expect(block?["scope"] as? String == "brand")
            #expect(block?["source"] as? String == "api")
            let allowed = try await client.send(.get, "/v1/check?address=ann@example.com&channel=email&scope=other", key: server.member)
            #expect(allowed.json["allowed"] as? Bool == true)
        }
    }

    @Test func batchCheckGroupsAddressesInInputOrder() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"addresses": ["b@example.com", "+14155550100"], "channel": "all"}"#)
            let result = try await client.send(.post, "/v1/check", key: server.member, json: #"{"channel": "email", "addresses": ["a@example.com", "b@example.com", "not an address", "c@example.com"]}"#)
            #expect(result.status == .ok)
            #expect(result.json["allowed"] as? [String] == ["a@example.com", "c@example.com"])
            let blocked = result.json["blocked"] as? [[String: Any]]
            #expect(blocked?.map { $0["address"] as? String } == ["b@example.com"])
            #expect(blocked?.first?["reason"] as? String == "optout_email")
            #expect((result.json["invalid"] as? [[String: Any]])?.first?["input"] as? String == "not an address")
            let phone = try await client.send(.post, "/v1/check", key: server.member, json: #"{"channel": "sms", "addresses": ["+1 415 555 0100"]}"#)
            #expect((phone.json["blocked"] as? [[String: Any]])?.first?["reason"] as? String == "optout_number")
            // An email address on a phone channel is the caller's mistake, not an "allowed".
            let mixed = try await client.send(.post, "/v1/check", key: server.member, json: #"{"channel": "sms", "addresses": ["a@example.com", "+14155550199"]}"#)
            #expect((mixed.json["invalid"] as? [[String: Any]])?.first?["input"] as? String == "a@example.com")
            #expect(mixed.json["allowed"] as? [String] == ["+14155550199"])
            let single = try await client.send(.get, "/v1/check?address=a@example.com&channel=voice", key: server.member)
            #expect(single.status == .badRequest)
            #expect(((single.json["errors"] as? [[String: Any]])?.first?["field"] as? String) == "address")
        }
    }

    @Test func keysAreRequiredAndRolesEnforced() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let none = try await client.send(.get, "/v1/check?address=a@example.com&channel=email", key: nil)
            #expect(none.status == .unauthorized)
            #expect(none.contentType == "application/problem+json")
            #expect(try await client.send(.get, "/v1/settings", key: "hush_not-a-key").status == .unauthorized)

            let optIn = #"{"address": "a@example.com", "channel": "email", "evidence": {"kind": "written_consent", "reference": "form-7"}}"#
            let forbidden = try await client.send(.post, "/v1/opt-ins", key: server.member, json: optIn)
            #expect(forbidden.status == .forbidden)
            #expect(try await client.send(.patch, "/v1/settings", key: server.member, json: #"{"granular_opt_outs": true}"#).status == .forbidden)
            #expect(try await client.send(.post, "/v1/opt-ins", key: server.admin, json: optIn).status == .ok)
        }
    }

    @Test func organizationsNeverSeeEachOther() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "a@example.com", "channel": "email"}"#)
            let elsewhere = try await client.send(.get, "/v1/check?address=a@example.com&channel=email", key: server.otherAdmin)
            #expect(elsewhere.json["allowed"] as? Bool == true)
            let acmeDefault = server.acme.defaultList.rawValue
            let foreignList = try await client.send(.post, "/v1/opt-outs", key: server.otherAdmin, json: #"{"address": "a@example.com", "channel": "email", "list": \#(acmeDefault)}"#)
            #expect(foreignList.status == .notFound)
            #expect(((foreignList.json["errors"] as? [[String: Any]])?.first?["field"] as? String) == "list")
        }
    }

    @Test func badInputNamesTheField() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let cases: [(String, String)] = [
                (#"{"address": "a@example.com", "chanel": "email", "channel": "email"}"#, "chanel"),
                (#"{"address": "a@example.com"}"#, "channel"),
                (#"{"address": "a@example.com", "channel": "fax"}"#, "channel"),
                (#"{"address": "a@", "channel": "email"}"#, "address"),
                (#"{"address": "a@example.com", "channel": "email", "scope": "Bad Scope"}"#, "scope"),
                (#"{"addresses": ["a@example.com", "nope"], "channel": "email"}"#, "addresses[1]"),
                (#"{"address": 7, "channel": "email"}"#, "address"),
                (#"{"address": "a@example.com", "channel": "email", "source": "carrier-pigeon"}"#, "source"),
                (#"not json"#, "body"),
            ]
            for (body, field) in cases {
                let response = try await client.send(.post, "/v1/opt-outs", key: server.admin, json: body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(response.contentType == "application/problem+json")
                #expect(((response.json["errors"] as? [[String: Any]])?.first?["field"] as? String) == field, "\(body)")
                #expect(response.json["status"] as? Int == 400)
            }
            let missingEvidence = try await client.send(.post, "/v1/opt-ins", key: server.admin, json: #"{"address": "a@example.com", "channel": "email"}"#)
            #expect(missingEvidence.status == .unprocessableContent)
            let missingQuery = try await client.send(.get, "/v1/check?channel=email", key: server.admin)
            #expect(((missingQuery.json["errors"] as? [[String: Any]])?.first?["field"] as? String) == "address")
            // A query parameter the operation does not take, or one given twice, is refused rather
            // than left out of the answer: a list left out lets through whoever opted out of it.
            let check = "/v1/check?address=a@example.com&channel=email"
            for (path, field) in [
                (check + "&lists=default&lists=default", "lists"), (check + "&list=default", "list"), (check + "&lists%5B%5D=default", "lists%5B%5D"),
                (check + "&address=b@example.com", "address"), ("/v1/events?limit=5&limit=6", "limit"), ("/v1/events?afterr=3", "afterr"),
                ("/v1/review?limit=5&limit=6", "limit"), ("/v1/opt-in-requests?state=all", "state"),
            ] {
                let refused = try await client.send(.get, path, key: server.admin)
                #expect(refused.status == .badRequest, "\(path)")
                #expect(((refused.json["errors"] as? [[String: Any]])?.first?["field"] as? String) == field, "\(path)")
            }
            let jsonWithQuery = try await client.send(.post, "/v1/check?lists=default", key: server.admin, json: #"{"addresses": ["a@example.com"], "channel": "email"}"#)
            #expect(((jsonWithQuery.json["errors"] as? [[String: Any]])?.first?["field"] as? String) == "lists")
            #expect(try await client.send(.get, check + "&lists=default&min_sequence=0", key: server.admin).status == .ok)
            let huge = String(repeating: "x", count: HushRequestContext.maximumBodyBytes + 1)
            let tooLarge = try await client.send(.post, "/v1/check", key: server.admin, json: huge)
            #expect(tooLarge.status == .contentTooLarge)
            #expect(try await client.send(.get, "/v1/nothing-here", key: server.admin).status == .notFound)
        }
    }

    @Test func settingsChangeWithAnAdminKey() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let before = try await client.send(.get, "/v1/settings", key: server.member)
            #expect(before.json["granular_opt_outs"] as? Bool == false)
            let after = try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"granular_opt_outs": true, "default_region": "gb"}"#)
            #expect(after.json["granular_opt_outs"] as? Bool == true)
            #expect(after.json["default_region"] as? String == "GB")
            // The region now reads national numbers.
            let optOut = try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "07700 900123", "channel": "sms"}"#)
            #expect((optOut.json["suppressions"] as? [[String: Any]])?.first?["address"] as? String == "+447700900123")
            let bad = try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"default_region": "XX"}"#)
            #expect(bad.status == .badRequest)
        }
    }

    @Test func metricsCountRequestsAndChecks() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.get, "/v1/check?address=a@example.com&channel=email", key: server.member)
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("hush_checks_total 1"))
                #expect(text.contains("hush_http_requests_total"))
                #expect(text.contains("hush_index_suppressions"))
            }
        }
    }

    @Test func liveServerOverLoopback() async throws {
        let server = try await TestServer()
        try await server.live { port in
            let created = try await PatientHTTP.send(.POST, port: port, "/v1/opt-outs", key: server.admin, body: #"{"address": "live@example.com", "channel": "email"}"#)
            #expect(created.status == 201)
            let check = try await PatientHTTP.send(.GET, port: port, "/v1/check?address=live@example.com&channel=email", key: server.member)
            #expect(String(buffer: check.body).contains(#""allowed":false"#))
        }
    }
}

/// A client that asks `Expect: 100-continue` gets `100 Continue` before it sends its body.
@Suite(.everyBackend) struct ContinueTests {
    @Test func expectContinueIsAnsweredBeforeTheBody() async throws {
        let server = try await TestServer()
        try await server.live { port in
            let body = #"{"channel": "email", "addresses": ["a@example.com"]}"#
            let head = "POST /v1/check HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(server.member)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
            let (interim, final) = try await Self.exchange(port: port, head: head, body: body)
            #expect(interim.hasPrefix("HTTP/1.1 100 Continue"), "\(interim)")
            #expect(final.hasPrefix("HTTP/1.1 200"), "\(final)")
        }
    }

    /// A request pipelined behind another gets its `100 Continue` after the answer before it,
    /// never before or inside it.
    @Test func aPipelinedRequestIsToldToContinueAfterTheAnswersBeforeIt() async throws {
        let server = try await TestServer()
        try await server.live { port in
            let optOut = #"{"address": "zed@example.com", "channel": "email"}"#
            let check = #"{"channel": "email", "addresses": ["zed@example.com"]}"#
            let first = "POST /v1/opt-outs HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer \(server.member)\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(optOut.utf8.count)\r\n\r\n\(optOut)"
            let second = "POST /v1/check HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer \(server.member)\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(check.utf8.count)\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n\(check)"
            let answers = try await CheckDoorTests.pipeline(port: port, [first + second])
            #expect(answers.map(\.status) == [201, 100, 200], "\(answers)")
        }
    }

    /// Sends the head, reads what comes back, then sends the body and reads the rest; on a thread
    /// of its own, since the socket calls block.
    static func exchange(port: Int, head: String, body: String) async throws -> (String, String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                // A generous timeout: it only bounds a server that never answers, and a busy machine is slow.
                guard let socket = LoopbackSocket.connect(port: port, receiveTimeout: 120) else {
                    continuation.resume(throwing: POSIXError(.ECONNREFUSED))
                    return
                }
                defer { close(socket) }
                func receive() -> String {
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    let count = recv(socket, &buffer, buffer.count, 0)
                    return count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : ""
                }
                _ = head.withCString { send(socket, $0, strlen($0), 0) }
                let interim = receive()
                _ = body.withCString { send(socket, $0, strlen($0), 0) }
                var final = ""
                while true {
                    let more = receive()
                    if more.isEmpty { break }
                    final += more
                }
                continuation.resume(returning: (interim, final))
            }
        }
    }
}
