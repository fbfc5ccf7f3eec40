import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HushTestSupport
import Testing

/// `hush serve` killed with SIGKILL while CRM pushes are pending loses none of them: after a
/// restart the connector service writes every one, and records nothing twice.
@Suite(.everyBackend) struct CRMCrashTests {
    static let environment = ["HUSH_ALLOW_PRIVATE_TARGETS": "1"]

    /// `hush serve` on `port` with a Dynamics connector on `crm`, its first sync (run by the
    /// server's own service) done: the server, its first admin key and the connector's id.
    static func serveWithConnector(_ cli: CLI, port: Int, crm: DynamicsEmulator) async throws -> (CLI.Running, String, Int) {
        let server = try cli.start(["serve", "--port", String(port)], environment: environment, drained: true)
        #expect(try await eventually { (try? await WebhookCrashTests.request("GET", port: port, "/health")) != nil })
        _ = try await eventually { server.printed.contains("hush_") }
        let key = try #require(server.printed.split(separator: "\n").last { $0.hasPrefix("hush_") }.map(String.init))
        let (created, connector) = try await WebhookCrashTests.request("POST", port: port, "/v1/connectors", key: key, json: """
            {"name": "dyn", "provider": "dynamics", "instance_url": "\(await crm.url)", "token_url": "\(await crm.tokenURL)",
             "auth": {"tenant": "\(DynamicsEmulator.tenant)", "client_id": "\(DynamicsEmulator.clientID)", "client_secret": "\(DynamicsEmulator.clientSecret)"},
             "mode": "shared_field", "poll_seconds": 15}
            """)
        #expect(created == 201, "\(connector)")
        let id = try #require(connector["id"] as? Int)
        #expect(try await eventually {
            (try await WebhookCrashTests.request("GET", port: port, "/v1/connectors/\(id)/status", key: key)).1["first_sync_done"] as? Bool == true
        })
        return (server, key, id)
    }

    @Test func killedWhilePushesArePendingLosesNone() async throws {
        let cli = try await CLI()
        let port = freeLoopbackPort()
        let crm = try await DynamicsEmulator.start()
        let count = 300
        var ids: [String] = []
        for n in 0..<count { ids.append(await crm.put("contacts", fields: ["emailaddress1": "crash\(n)@example.com"])) }
        let (first, key, id) = try await Self.serveWithConnector(cli, port: port, crm: crm)

        await crm.throttleWrites(retryAfter: 1)
        let addresses = (0..<count).map { #""crash\#($0)@example.com""# }.joined(separator: ",")
        let (written, _) = try await WebhookCrashTests.request("POST", port: port, "/v1/opt-outs", key: key, json: #"{"addresses": [\#(addresses)], "channel": "email"}"#)
        #expect(written == 201)
        // Marked due (the cursor moved past the events), then refused by the CRM: pending.
        #expect(try await eventually {
            let status = try await WebhookCrashTests.request("GET", port: port, "/v1/connectors/\(id)/status", key: key).1
            return status["outbox_pending"] as? Int == count && status["ledger_behind"] as? Int == 0 && status["state"] as? String == "throttled"
        }, "pushes are pending when the server dies")
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        #expect(await crm.row("contacts", ids[0])?.booleans["donotemail"] == nil)

        await crm.allowWrites()
        let second = try cli.start(["serve", "--port", String(port)], environment: Self.environment, drained: true)
        let delivered = try await eventually(limit: .seconds(120)) {
            var ticked = 0
            for id in ids where await crm.row("contacts", id)?.booleans["donotemail"] == true { ticked += 1 }
            return ticked == count
        }
        if !delivered {
            // What the connector said of itself, for a run that failed on a busy machine.
            let status = try? await WebhookCrashTests.request("GET", port: port, "/v1/connectors/\(id)/status", key: key).1
            let log = try? await WebhookCrashTests.request("GET", port: port, "/v1/connectors/\(id)/log?limit=20", key: key).1
            Issue.record("""
                status \(status ?? [:]); log \(log ?? [:]); emulator requests \(await crm.requests); \
                412s \(await crm.conflicts.prefix(5))
                """)
        }
        #expect(delivered, "every pending push is written after the restart; the server printed: \(second.printed.suffix(2000))")
        let store = try await cli.store(loadsIndex: false)
        let events = try await rawSQL("SELECT COUNT(*) FROM ledger", on: store)
        #expect(events == [["\(count)"]], "the API's opt-outs, and nothing for the echoes")
        kill(second.process.processIdentifier, SIGTERM)
        second.process.waitUntilExit()
        #expect(!second.printed.contains(DynamicsEmulator.clientSecret), "no secrets in the logs")
        await crm.stop()
    }
}

extension CRMCrashTests {
    /// The ledger is the connector's outbox: opt-outs committed when no server was running (so
    /// no connector had marked a push for them: the window between an opt-out's commit and its
    /// mark, kept open for good) are all written once `hush serve` starts again.
    @Test func optOutsNoServerMarkedArePushedAfterARestart() async throws {
        let cli = try await CLI()
        let port = freeLoopbackPort()
        let crm = try await DynamicsEmulator.start()
        let count = 50
        var ids: [String] = []
        for n in 0..<count { ids.append(await crm.put("contacts", fields: ["emailaddress1": "window\(n)@example.com"])) }
        let (first, _, _) = try await Self.serveWithConnector(cli, port: port, crm: crm)
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()

        // Committed by another process while no server runs: nothing marks them.
        let file = try cli.write("window.csv", (["address"] + (0..<count).map { "window\($0)@example.com" }).joined(separator: "\n") + "\n")
        let imported = try await cli.run(["import", file, "--channel", "email"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(await crm.row("contacts", ids[0])?.booleans["donotemail"] == nil)

        let second = try cli.start(["serve", "--port", String(port)], environment: Self.environment, drained: true)
        let delivered = try await eventually(limit: .seconds(120)) {
            var ticked = 0
            for id in ids where await crm.row("contacts", id)?.booleans["donotemail"] == true { ticked += 1 }
            return ticked == count
        }
        #expect(delivered, "every opt-out committed while no server ran is written; the server printed: \(second.printed.suffix(2000))")
        kill(second.process.processIdentifier, SIGTERM)
        second.process.waitUntilExit()
        await crm.stop()
    }
}

/// `hush connectors` from the command line, through the API's code.
@Suite(.everyBackend) struct ConnectorCommandTests {
    /// The emulator answers from this test process, which shares a busy machine with the rest of
    /// the suite: a generous timeout, so a slow answer is waited for, not failed (15 s did fail).
    static let patient = ["HUSH_WEBHOOK_TIMEOUT": "120"]

    @Test func addSyncAndStatusFromTheCommandLine() async throws {
        let cli = try await CLI()
        let crm = try await DynamicsEmulator.start()
        await crm.put("contacts", fields: ["emailaddress1": "ann@example.com"], booleans: ["donotemail": true])
        #expect(try await cli.run(["orgs", "create", "acme"]).status == 0)
        let body = try cli.write("connector.json", """
            {"name": "dyn", "provider": "dynamics", "instance_url": "\(await crm.url)", "token_url": "\(await crm.tokenURL)",
             "auth": {"tenant": "\(DynamicsEmulator.tenant)", "client_id": "\(DynamicsEmulator.clientID)", "client_secret": "\(DynamicsEmulator.clientSecret)"},
             "mode": "shared_field"}
            """)
        let adding = try cli.start(["connectors", "add", "--org", "acme", "--allow-private-targets"])
        try adding.input.fileHandleForWriting.write(contentsOf: try Data(contentsOf: URL(fileURLWithPath: body)))
        try adding.input.fileHandleForWriting.close()
        let added = await adding.finish().stdout
        #expect(adding.process.terminationStatus == 0)
        #expect(added.contains(#""presets" : ["#) && !added.contains(DynamicsEmulator.clientSecret))

        let dry = try await cli.run(["connectors", "sync", "dyn", "--org", "acme", "--dry-run", "--allow-private-targets"], environment: Self.patient)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains(#""dry_run" : true"#))
        let checked = try await cli.run(["check", "ann@example.com", "--channel", "email", "--org", "acme"])
        #expect(!checked.stdout.contains("blocked"), "a dry run records nothing: \(checked.stdout)")

        let synced = try await cli.run(["connectors", "sync", "dyn", "--org", "acme", "--allow-private-targets"], environment: Self.patient)
        #expect(synced.status == 0, "\(synced.stderr)")
        #expect(synced.stdout.contains(#""opt_outs" : 1"#))
        let status = try await cli.run(["connectors", "status", "dyn", "--org", "acme"])
        #expect(status.stdout.contains(#""state" : "ok""#) && status.stdout.contains(#""first_sync_done" : true"#))
        let listed = try await cli.run(["connectors", "list", "--org", "acme"])
        #expect(listed.stdout.contains(#""name" : "dyn""#))
        let tested = try await cli.run(["connectors", "test", "dyn", "--org", "acme", "--allow-private-targets"], environment: Self.patient)
        #expect(tested.status == 0 && tested.stdout.contains(#""ok" : true"#), "\(tested.stdout) \(tested.stderr)")
        let resynced = try await cli.run(["connectors", "resync", "dyn", "--org", "acme", "--allow-private-targets"], environment: Self.patient)
        #expect(resynced.status == 0 && resynced.stdout.contains(#""read" : 1"#) && resynced.stdout.contains(#""opt_outs" : 0"#),
                "a resync reads every record again and records nothing twice: \(resynced.stdout) \(resynced.stderr)")
        let refused = try await cli.run(["connectors", "sync", "dyn", "--org", "acme"])
        #expect(refused.status != 0, "without --allow-private-targets a loopback CRM is refused")
        await crm.stop()
    }
}
