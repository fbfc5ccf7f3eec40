import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// `GET /v1/check` answered at the door (`CheckDoor`): the same bytes the router writes, only for
/// a plain check, never ahead of an earlier request on the connection, and never for a key the
/// router has refused.
@Suite(.everyBackend) struct CheckDoorTests {
    /// The router and the door of one application, sharing its key memory.
    enum Doors {
        static func of(_ server: TestServer) -> (Application<RouterResponder<HushRequestContext>>, CheckDoor) {
            let built = HushServer.build(store: server.store, configuration: server.configuration)
            return (Application(router: built.router), built.checkDoor)
        }

        /// A server whose organizations' cache never goes stale (its clock stands still) and
        /// whose key memory is read again only after an hour, so the door's answers do not
        /// depend on how fast the machine is; or read again on every request.
        static func server(refreshingKeys: Bool = false) async throws -> TestServer {
            var configuration = ServerConfiguration()
            configuration.keyRefreshInterval = refreshingKeys ? .zero : .seconds(3600)
            return try await TestServer(configuration: configuration, clock: TestClock())
        }

    }

    @Test func theDoorAnswersAPlainCheckWithTheRoutersBytes() async throws {
        let server = try await Doors.server()
        let (application, doors) = Doors.of(server)
        try await application.test(.router) { client in
            try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "email", "scope": "brand"}"#)
            for path in [
                "/v1/check?address=Ann%40Example.com&channel=email&scope=brand/rep-1", "/v1/check?address=bob@example.com&channel=email",
                "/v1/check?channel=email&address=ann@example.com&scope=other",
            ] {
                let routed = try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(server.member)"]) { response in
                    (response.status, Array(response.body.readableBytesView), response.headers[.contentType])
                }
                let (head, body) = try #require(doors.answer(path, key: server.member), "the door leaves \(path) to the router")
                #expect(head.status == routed.0, "\(path)")
                #expect(String(decoding: body, as: UTF8.self) == String(decoding: routed.1, as: UTF8.self), "\(path)")
                #expect(head.headerFields[.contentType] == routed.2)
                #expect(head.headerFields[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
                #expect(head.headerFields[.contentLength] == String(body.count))
            }
        }
    }

    @Test func theDoorLeavesAnythingElseToTheRouter() async throws {
        let server = try await Doors.server()
        let (application, doors) = Doors.of(server)
        let plain = "/v1/check?address=ann@example.com&channel=email"
        #expect(doors.answer(plain, key: server.member) == nil, "a key the router has not accepted yet")
        try await application.test(.router) { client in
            for key in [server.member, server.admin, server.inbound] {
                try await client.execute(uri: plain, method: .get, headers: [.authorization: "Bearer \(key)"]) { _ in }
            }
        }
        #expect(doors.answer(plain, key: server.member) != nil)
        #expect(doors.answer(plain, key: server.admin) != nil)
        #expect(doors.answer(plain, key: server.inbound) == nil, "an inbound key may not check")
        #expect(doors.answer(plain, key: nil) == nil)
        #expect(doors.answer(plain, key: "hush_unknown") == nil)
        for path in [
            plain + "&lists=default", plain + "&at=2026-01-01T00:00:00Z", plain + "&min_sequence=1", plain + "&extra=1",
            plain + "&address=bob@example.com", plain + "&channel=sms",
            "/v1/check?address=not%20an%20address&channel=email", "/v1/check?address=ann@example.com", "/v1/check?address=ann@example.com&channel=sms",
            "/v1/check?address=ann@example.com&channel=email&scope=%2F%2F", "/v1/checks?address=ann@example.com&channel=email", "/v1/check",
        ] {
            #expect(doors.answer(path, key: server.member) == nil, "\(path)")
        }
        #expect(doors.answer(plain, key: server.member, method: .post) == nil)
        for (name, value) in [("Hush-Min-Sequence", "1"), ("Connection", "close"), ("Content-Length", "5"), ("Transfer-Encoding", "chunked")] {
            #expect(doors.answer(plain, key: server.member, headers: [HTTPField.Name(name)!: value]) == nil, "\(name)")
        }
        #expect(doors.answer(plain, key: server.member, headers: [.connection: "keep-alive"]) != nil)
    }

    /// While the revocations are due to be read, the door answers nothing: the router reads
    /// them, so a revoked key is refused at the door as soon as by the router.
    @Test func theDoorLeavesTheRevocationsToTheRouter() async throws {
        let server = try await Doors.server(refreshingKeys: true)
        let (application, doors) = Doors.of(server)
        let (key, info) = try await server.store.createKey(in: server.acme.id, role: .member)
        let plain = "/v1/check?address=ann@example.com&channel=email"
        try await application.test(.router) { client in
            func check() async throws -> HTTPResponse.Status {
                try await client.execute(uri: plain, method: .get, headers: [.authorization: "Bearer \(key.secret)"]) { $0.status }
            }
            let before = try await check()
            #expect(before == .ok)
            #expect(doors.answer(plain, key: key.secret) == nil, "a read of the revocations is due")
            let revoked = try await server.store.revokeKey(info.id, in: server.acme.id)
            #expect(revoked)
            let after = try await check()
            #expect(after == .unauthorized)
            #expect(doors.answer(plain, key: key.secret) == nil)
        }
    }

    /// Over one connection: a check, an opt-out and the same check again, written at once. The
    /// second check waits for the opt-out before it (the door answers only while nothing it passed
    /// on is unanswered), so the answers come in order and the second is blocked.
    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let server = try await Doors.server()
        try await server.live { port in
            let check = "GET /v1/check?address=zed@example.com&channel=email HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer \(server.member)\r\n\r\n"
            let optOut = #"{"address": "zed@example.com", "channel": "email"}"#
            let post = "POST /v1/opt-outs HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer \(server.member)\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(optOut.utf8.count)\r\n\r\n\(optOut)"
            let health = "GET /health HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n"
            // The first check teaches the door the key; the rest go in one write.
            let answers = try await Self.pipeline(port: port, [check, check + post + check + health])
            let statuses = answers.map(\.status)
            #expect(statuses == [200, 200, 201, 200, 200], "\(answers.map(\.body))")
            guard answers.count == 5 else { return }
            #expect(answers[1].body.contains(#""allowed":true"#))
            #expect(answers[3].body.contains(#""allowed":false"#), "\(answers[3].body)")
            let metrics = try await PatientHTTP.send(.GET, port: port, "/metrics", key: server.member)
            let door = String(buffer: metrics.body).split(separator: "\n").first { $0.hasPrefix("hush_checks_at_the_door_total ") }
            #expect(door.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0 >= 1, "the door answered the second check")
        }
    }

    /// A client that pipelines thousands of checks, shuts its side and reads only then gets every
    /// answer: the end of its input reaches the router only once the door's answers are written,
    /// and while the connection cannot take more the router answers (and stops the reading).
    @Test func everyPipelinedAnswerArrivesAfterTheClientShutsItsSide() async throws {
        let server = try await Doors.server()
        try await server.live { port in
            let check = "GET /v1/check?address=zed@example.com&channel=email HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer \(server.member)\r\n\r\n"
            let count = 3_000
            let writes = [check, String(repeating: check, count: count) + "GET /health HTTP/1.1\r\nHost: local\r\n\r\n"]
            let answers = try await Self.pipeline(port: port, writes, shut: true)
            let statuses = answers.reduce(into: [Int: Int]()) { $0[$1.status, default: 0] += 1 }
            #expect(statuses == [200: count + 2])
            #expect(answers.last?.body.contains("\"status\":\"ok\"") == true, "the last answer is the last request's")
        }
    }

    /// A client that pipelines checks, shuts its side and only then reads, through a small receive
    /// window: answers still wait to be written when its input ends, and every one arrives.
    @Test func answersWaitingWhenTheClientShutsItsSideAreAllWritten() async throws {
        let server = try await Doors.server()
        try await server.live { port in
            let check = "GET /v1/check?address=zed@example.com&channel=email HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer \(server.member)\r\n\r\n"
            let count = 250
            let writes = [check, String(repeating: check, count: count)]
            let answers = try await Self.pipeline(port: port, writes, shut: true, readingAfterShut: true)
            #expect(answers.count == count + 1)
            #expect(answers.allSatisfy { $0.status == 200 && $0.body.hasSuffix("}") })
        }
    }

    /// Writes each of `writes` in turn on one connection, and reads every answer until the server
    /// closes it (the last request says `Connection: close`).
    static func pipeline(
        port: Int, _ writes: [String], shut: Bool = false, readingAfterShut: Bool = false
    ) async throws -> [(status: Int, body: String)] {
        let text: String = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                guard let socket = LoopbackSocket.connect(port: port, receiveTimeout: 120, receiveBuffer: readingAfterShut ? 4096 : nil) else {
                    continuation.resume(throwing: POSIXError(.ECONNREFUSED))
                    return
                }
                defer { close(socket) }
                var received: [UInt8] = []
                for (index, write) in writes.enumerated() {
                    if index == writes.count - 1, readingAfterShut {
                        Self.sendAll(socket, write)
                        shutdown(socket, Int32(SHUT_WR))
                        Self.readAll(socket, into: &received)
                        break
                    }
                    if index == writes.count - 1, shut {
                        // Written from a thread of its own while this one reads, then shut.
                        let done = DispatchSemaphore(value: 0)
                        Thread.detachNewThread {
                            Self.sendAll(socket, write)
                            shutdown(socket, Int32(SHUT_WR))
                            done.signal()
                        }
                        defer { done.wait() }
                        Self.readAll(socket, into: &received)
                        break
                    }
                    Self.sendAll(socket, write)
                    // Before the next write, the first answer is read whole.
                    while index < writes.count - 1, !String(decoding: received, as: UTF8.self).contains("}") {
                        var buffer = [UInt8](repeating: 0, count: 4096)
                        let count = recv(socket, &buffer, buffer.count, 0)
                        guard count > 0 else { break }
                        received += buffer.prefix(count)
                    }
                }
                if !shut { Self.readAll(socket, into: &received) }
                continuation.resume(returning: String(decoding: received, as: UTF8.self))
            }
        }
        return text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { answer in
            (Int(answer.prefix(3)) ?? 0, answer.components(separatedBy: "\r\n\r\n").dropFirst().joined())
        }
    }
}

extension CheckDoorTests {
    static func sendAll(_ socket: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            sent += count
        }
    }

    /// Reads until the server closes the connection (or a read waits out the socket's timeout).
    static func readAll(_ socket: Int32, into received: inout [UInt8]) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(socket, &buffer, buffer.count, 0)
            guard count > 0 else { return }
            received += buffer.prefix(count)
        }
    }
}

extension CheckDoor {
    /// The door's answer to a request for `path` with `key`.
    func answer(_ path: String, key: String?, method: HTTPRequest.Method = .get, headers: HTTPFields = [:]) -> (HTTPResponse, [UInt8])? {
        var fields = headers
        if let key { fields[.authorization] = "Bearer \(key)" }
        return answer(HTTPRequest(method: method, scheme: nil, authority: nil, path: path, headerFields: fields), date: "today")
    }
}
