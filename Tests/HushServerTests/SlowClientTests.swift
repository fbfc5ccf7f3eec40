import Foundation
import Hummingbird
import HummingbirdTesting
import HushTestSupport
import Testing
@testable import HushServer

/// Clients that open connections and trickle half a header are cut off by the server.
@Suite(.everyBackend) struct SlowClientTests {
    @Test func twoHundredHalfHeadersAreClosedByTheServer() async throws {
        var configuration = ServerConfiguration(port: 0)
        configuration.headerTimeout = .seconds(1)
        let server = try await TestServer(configuration: configuration)
        try await server.live { port in
            let closed = try await Self.halfHeaders(port: port, connections: 200)
            #expect(closed == 200, "every socket was closed by the server, none left hanging")
            // The server still answers a client that sends its request (on a new connection: the
            // test client's own, idle since the start, was cut off too).
            let (answer, _) = try await ContinueTests.exchange(port: port, head: "GET /health HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n", body: "")
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        }
    }

    /// Opens `connections` sockets, sends each half a request head, and counts those the server
    /// closes (a read returns end-of-file; a read waits at most 60 s, so a server that never
    /// closes fails the test instead of hanging it).
    static func halfHeaders(port: Int, connections: Int) async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                var sockets: [Int32] = []
                defer { sockets.forEach { close($0) } }
                for _ in 0..<connections {
                    guard let socket = LoopbackSocket.connect(port: port, receiveTimeout: 60) else {
                        continuation.resume(throwing: POSIXError(.ECONNREFUSED))
                        return
                    }
                    sockets.append(socket)
                    _ = "GET /health HTTP/1.1\r\nHost: local".withCString { send(socket, $0, strlen($0), 0) }
                }
                var closed = 0
                for socket in sockets {
                    var buffer = [UInt8](repeating: 0, count: 512)
                    if recv(socket, &buffer, buffer.count, 0) == 0 { closed += 1 }
                }
                continuation.resume(returning: closed)
            }
        }
    }
}
