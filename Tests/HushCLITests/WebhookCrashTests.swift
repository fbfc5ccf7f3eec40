import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HushTestSupport
import Testing

/// `hush serve` killed with SIGKILL while webhook deliveries are pending loses none of them:
/// after a restart every committed event reaches the receiver.
@Suite(.everyBackend) struct WebhookCrashTests {
    static let environment = ["HUSH_ALLOW_PRIVATE_WEBHOOK_TARGETS": "1", "HUSH_WEBHOOK_RETRY_DELAYS": "0.2,0.2,0.2,0.2,0.2"]

    /// Starts `hush serve` and waits until it answers; returns it and, on a new database, its key.
    static func serve(_ cli: CLI, port: Int, first: Bool) async throws -> (CLI.Running, String?) {
        let running = try cli.start(["serve", "--port", String(port)], environment: environment, drained: true)
        var key: String?
        #expect(try await eventually { (try? await request("GET", port: port, "/health")) != nil }, "hush serve answers")
        if first {
            // Only the first start prints the key, before it listens.
            _ = try await eventually { running.printed.contains("hush_") }
            key = running.printed.split(separator: "\n").last { $0.hasPrefix("hush_") }.map(String.init)
        }
        return (running, key)
    }

    static func request(_ method: String, port: Int, _ path: String, key: String? = nil, json: String? = nil) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        if let key { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(json.utf8)
        }
        let (body, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:])
    }

    @Test func killedWhileDeliveriesArePendingLosesNone() async throws {
        let cli = try await CLI()
        let port = freeLoopbackPort()
        // A receiver slow enough that most deliveries are still pending when the server dies.
        let receiver = try await WebhookReceiver.start { _, _ in .init(delay: .milliseconds(10)) }
        let (first, printedKey) = try await Self.serve(cli, port: port, first: true)
        let key = try #require(printedKey)
        let (created, endpoint) = try await Self.request("POST", port: port, "/v1/webhooks", key: key, json: #"{"url": "\#(receiver.url)", "events": ["opt_out.created"]}"#)
        #expect(created == 201)
        let endpointID = try #require(endpoint["id"] as? Int)

        let count = 300
        let addresses = (0..<count).map { #""crash\#($0)@example.com""# }.joined(separator: ",")
        let (written, _) = try await Self.request("POST", port: port, "/v1/opt-outs", key: key, json: #"{"addresses": [\#(addresses)], "channel": "email"}"#)
        #expect(written == 201, "every event is committed before the kill")

        await receiver.waitFor(20)
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        let beforeRestart = Set(await receiver.received.map(\.webhookID)).count
        #expect(beforeRestart < count, "deliveries were pending when the server died")

        let (second, _) = try await Self.serve(cli, port: port, first: false)
        let expected = Set((1...count).map { "msg_l\($0)_\(endpointID)" })
        let all = await receiver.waitUntil(timeout: .seconds(60)) { Set($0.map(\.webhookID)).isSuperset(of: expected) }
        let missing = expected.subtracting(all.map(\.webhookID))
        if !missing.isEmpty {
            let store = try await cli.store(loadsIndex: false)
            let rows = try await rawSQL(
                "SELECT id, status, attempts, next_attempt_at, leased_until, error FROM webhook_deliveries WHERE status = 'pending' ORDER BY id LIMIT 3",
                on: store)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            Issue.record("pending deliveries at \(now): \(rows); received \(await receiver.received.count) requests")
        }
        #expect(missing.isEmpty, "every committed event is delivered (\(Backend.current)); missing \(missing.count): \(missing.sorted().prefix(10)); the server printed: \(second.printed.suffix(2000))")
        #expect(Set(all.map(\.webhookID)).count == count, "nothing else is delivered")
        kill(second.process.processIdentifier, SIGTERM)
        second.process.waitUntilExit()
        #expect(try await eventually { second.captured?.isFinished ?? true }, "all the server printed is read")
        let logged = second.printed
        #expect(!logged.contains("whsec_") && !logged.contains("crash1@example.com"), "no secrets or addresses in the logs")
        await receiver.stop()
    }
}
