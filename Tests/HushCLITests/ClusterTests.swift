import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HushTestSupport
import Testing

/// Three `hush serve` processes on one PostgreSQL database, as docs/deploy.md runs them behind a
/// load balancer: what one node acknowledges, every node answers; a node killed under write load
/// loses nothing acknowledged and the others keep answering; webhooks go out once, in ledger
/// order per endpoint, whichever node sends them.
@Suite(
    .enabled(if: PostgresServer.url != nil, "HUSH_TEST_POSTGRES_URL is not set: the multi-node tests need a PostgreSQL server"),
    .postgresOnly)
struct ClusterTests {
    struct Node {
        let port: Int
        let running: CLI.Running
    }

    /// Starts `count` nodes on the test's database; the first creates the first key and prints it.
    /// Nodes poll for each other's writes only every `pollMilliseconds`: what they see sooner,
    /// a notification told them.
    static func start(_ count: Int, _ cli: CLI, pollMilliseconds: Int = 60_000) async throws -> (nodes: [Node], key: String) {
        var nodes: [Node] = []
        var key: String?
        for index in 0..<count {
            let port = freeLoopbackPort()
            let running = try cli.start(["serve", "--port", String(port)], environment: WebhookCrashTests.environment.merging([
                "HUSH_FOLLOW_INTERVAL_MS": String(pollMilliseconds),
            ]) { $1 }, drained: true)
            #expect(try await eventually { (try? await WebhookCrashTests.request("GET", port: port, "/health")) != nil }, "node \(index + 1) answers; it printed: \(running.printed.suffix(1500))")
            if index == 0 {
                _ = try await eventually { running.printed.contains("hush_") }
                key = running.printed.split(separator: "\n").last { $0.hasPrefix("hush_") }.map(String.init)
            }
            nodes.append(Node(port: port, running: running))
        }
        return (nodes, try #require(key))
    }

    static func optOut(_ address: String, on node: Node, key: String) async throws -> (status: Int, sequence: Int?) {
        let (status, body) = try await WebhookCrashTests.request(
            "POST", port: node.port, "/v1/opt-outs", key: key, json: #"{"address": "\#(address)", "channel": "email"}"#)
        return (status, body["sequence"] as? Int)
    }

    static func isAllowed(_ address: String, on node: Node, key: String, minSequence: Int? = nil) async throws -> Bool? {
        let query = "/v1/check?address=\(address)&channel=email" + (minSequence.map { "&min_sequence=\($0)" } ?? "")
        let (status, body) = try await WebhookCrashTests.request("GET", port: node.port, query, key: key)
        return status == 200 ? body["allowed"] as? Bool : nil
    }

    @Test func nodesTakeTheSharedKeysFromConfigurationOnly() async throws {
        let cli = try await CLI()
        let without = try cli.start(["orgs", "create", "default"], environment: ["HUSH_ERASURE_SECRET": ""])
        try without.input.fileHandleForWriting.close()
        let errors = String(decoding: PipeReading.all(without.errors.fileHandleForReading), as: UTF8.self)
        without.process.waitUntilExit()
        #expect(without.process.terminationStatus != 0)
        #expect(errors.contains("HUSH_ERASURE_SECRET") && errors.contains("same"), "\(errors)")
        // From a file, as a mounted secret gives it.
        let file = try cli.write("erasure-key", CLI.secret + "\n")
        let fromFile = try cli.start(["orgs", "create", "default"], environment: ["HUSH_ERASURE_SECRET": "", "HUSH_ERASURE_SECRET_FILE": file])
        try fromFile.input.fileHandleForWriting.close()
        fromFile.process.waitUntilExit()
        #expect(fromFile.process.terminationStatus == 0)
        #expect(try await cli.run(["keys", "create", "--role", "member"]).status == 0, "the same keys as the environment's")
    }

    @Test func anOptOutOnOneNodeIsBlockedOnTheOthers() async throws {
        let cli = try await CLI()
        let (nodes, key) = try await Self.start(3, cli)
        let (status, sequence) = try await Self.optOut("first@example.com", on: nodes[0], key: key)
        #expect(status == 201)
        let position = try #require(sequence)
        // Asking for the write's position: answered from it at once.
        #expect(try await Self.isAllowed("first@example.com", on: nodes[2], key: key, minSequence: position) == false)
        // Without it: the commit's notification brings it (the nodes poll only every minute).
        _ = try await Self.optOut("second@example.com", on: nodes[0], key: key)
        #expect(try await eventually { try await Self.isAllowed("second@example.com", on: nodes[2], key: key) == false },
                "node 3 learns of node 1's write from its notification")
        #expect(try await Self.isAllowed("second@example.com", on: nodes[1], key: key) == false)
        #expect(try await Self.isAllowed("never@example.com", on: nodes[1], key: key) == true)
    }

    @Test func aNodeKilledUnderWriteLoadLosesNoAcknowledgedOptOut() async throws {
        let cli = try await CLI()
        let (nodes, key) = try await Self.start(3, cli, pollMilliseconds: 1000)
        let victim = nodes[1]
        // Four writers, each sending to the nodes in turn, until each has 60 acknowledged;
        // node 2 is killed once 40 are in. Writes node 2 never answered are not acknowledged.
        let acknowledged = try await withThrowingTaskGroup(of: [(String, Int)].self) { group in
            for writer in 0..<4 {
                group.addTask {
                    var done: [(String, Int)] = []
                    var attempt = 0
                    while done.count < 60 {
                        let node = nodes[attempt % nodes.count]
                        let address = "w\(writer)-\(attempt)@example.com"
                        attempt += 1
                        guard let (status, sequence) = try? await Self.optOut(address, on: node, key: key) else { continue }
                        if status == 201, let sequence { done.append((address, sequence)) }
                    }
                    return done
                }
            }
            group.addTask {
                // The killer: waits until the writers are under way (a signal, not a delay).
                let underWay = try await eventually(limit: .seconds(120)) {
                    (try? await WebhookCrashTests.request("GET", port: nodes[0].port, "/v1/events?limit=50", key: key))
                        .map { (($0.1["events"] as? [Any])?.count ?? 0) >= 40 } ?? false
                }
                #expect(underWay)
                kill(victim.running.process.processIdentifier, SIGKILL)
                victim.running.process.waitUntilExit()
                return []
            }
            var all: [(String, Int)] = []
            for try await done in group { all += done }
            return all
        }
        #expect(acknowledged.count == 240)
        let head = try #require(acknowledged.map(\.1).max())
        for survivor in [nodes[0], nodes[2]] {
            let addresses = acknowledged.map { #""\#($0.0)""# }.joined(separator: ",")
            let (status, body) = try await WebhookCrashTests.request(
                "POST", port: survivor.port, "/v1/check?min_sequence=\(head)", key: key,
                json: #"{"addresses": [\#(addresses)], "channel": "email"}"#)
            #expect(status == 200, "a surviving node keeps answering")
            let blocked = (body["blocked"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String }
            let allowed = body["allowed"] as? [String] ?? []
            #expect(Set(blocked) == Set(acknowledged.map(\.0)) && allowed.isEmpty,
                    "every acknowledged opt-out is in force on every node; allowed: \(allowed.prefix(5))")
        }
    }

    @Test func webhooksAreDeliveredOnceInLedgerOrderWhicheverNodeSendsThem() async throws {
        let cli = try await CLI()
        let receiver = try await WebhookReceiver.start()
        let (nodes, key) = try await Self.start(3, cli, pollMilliseconds: 1000)
        let (created, endpoint) = try await WebhookCrashTests.request(
            "POST", port: nodes[0].port, "/v1/webhooks", key: key, json: #"{"url": "\#(receiver.url)", "events": ["opt_out.created"]}"#)
        #expect(created == 201)
        let endpointID = try #require(endpoint["id"] as? Int)
        let count = 150
        // Written on every node at once, so every node's sender has work to take.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, node) in nodes.enumerated() {
                group.addTask {
                    for item in 0..<(count / nodes.count) {
                        let (status, _) = try await Self.optOut("n\(index)-\(item)@example.com", on: node, key: key)
                        #expect(status == 201)
                    }
                }
            }
            try await group.waitForAll()
        }
        let expected = Set((1...count).map { "msg_l\($0)_\(endpointID)" })
        let all = await receiver.waitUntil(timeout: .seconds(120)) { Set($0.map(\.webhookID)).isSuperset(of: expected) }
        let ids = all.map(\.webhookID)
        #expect(Set(ids) == expected, "every event is delivered")
        #expect(ids.count == count, "each webhook-id once while the receiver answers 200 at once")
        let sequences = ids.compactMap { Int($0.dropFirst("msg_l".count).prefix { $0.isNumber }) }
        #expect(sequences == sequences.sorted(), "in ledger order for the endpoint")
        await receiver.stop()
    }
}
