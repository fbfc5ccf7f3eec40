import CRMEmulators
import Foundation
import HushCore
import HushServer
import HushStore
import Logging

/// `hush-bench --only=crm [records]`: CRM sync against the Dataverse and Salesforce emulators on
/// loopback (100 000 records unless a size is given): the first sync's time and requests, the
/// requests an idle poll makes (and so per day at the default 60 s), and 10 000 Hush opt-outs
/// pushed, with the requests their batching takes.
struct CRMBenchmark {
    let records: Int
    let folder: String
    let pushes = 10_000

    func run() async throws {
        for provider in Connector.Provider.allCases {
            print("\n== CRM sync: \(provider.rawValue), \(records.formatted()) records ==")
            let path = (folder as NSString).appendingPathComponent("hush-bench-crm-\(provider.rawValue).sqlite")
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            let store = try await SQLiteStore(SQLiteStore.Configuration(path: path, erasureKey: .random()))
            let organization = try await store.createOrganization(named: "bench")
            let commands = ConnectorCommands(store: store, allowPrivateTargets: true, logger: Logger(label: "bench"))
            let emulator: any CRMEmulator = provider == .dynamics ? try await DynamicsEmulator.start() : try await SalesforceEmulator.start()
            await emulator.seed(records)
            _ = try await commands.add(json: Data(await emulator.connectorJSON().utf8), in: organization)

            var before = await emulator.totalRequests
            let first = try await measure { _ = try await commands.sync("bench", in: organization.id, dryRun: false) }
            report("first sync", "\(seconds(first)) s, \(await emulator.totalRequests - before) requests")

            // Steady state: a minute on, one record changed since the last poll.
            await emulator.later()
            _ = try await commands.sync("bench", in: organization.id, dryRun: false)
            before = await emulator.totalRequests
            _ = try await commands.sync("bench", in: organization.id, dryRun: false)
            let idle = await emulator.totalRequests - before
            if ProcessInfo.processInfo.environment["HUSH_BENCH_VERBOSE"] == "1" { print(await emulator.requestCounts) }
            report("an idle poll", "\(idle) requests: \((idle * 1_440).formatted()) a day at 60 s")

            let optOuts = (0..<pushes).map { n in
                OptOut(subject: .address(try! Address(email: "person\(n)@example.com")), channel: .only(.email), actor: "bench")
            }
            _ = try await store.record(optOuts, in: organization.id)
            before = await emulator.totalRequests
            let pushed = try await measure { _ = try await commands.sync("bench", in: organization.id, dryRun: false) }
            report("\(pushes.formatted()) opt-outs pushed", "\(seconds(pushed)) s, \(await emulator.totalRequests - before) requests")
            await commands.shutdown()
            await emulator.stop()
            try await store.close()
            for suffix in ["", "-wal", "-shm", ".index"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
    }
}

/// What the benchmark needs of either emulator.
protocol CRMEmulator: Actor {
    var totalRequests: Int { get }
    var requestCounts: [String: Int] { get }
    func seed(_ count: Int)
    /// A minute later, one record changed.
    func later()
    func connectorJSON() -> String
    func stop() async
}

extension DynamicsEmulator: CRMEmulator {
    var requestCounts: [String: Int] { requests }
    func later() { put("contacts", fields: ["description": "changed"]) }

    func seed(_ count: Int) {
        for n in 0..<count { put("contacts", fields: ["emailaddress1": "person\(n)@example.com", "telephone1": "+1415555\(String(format: "%04d", n % 10_000))"]) }
    }

    func connectorJSON() -> String {
        """
        {"name": "bench", "provider": "dynamics", "instance_url": "\(url)", "token_url": "\(tokenURL)", "entities": ["contact"],
         "auth": {"tenant": "\(Self.tenant)", "client_id": "\(Self.clientID)", "client_secret": "\(Self.clientSecret)"}, "mode": "shared_field"}
        """
    }
}

extension SalesforceEmulator: CRMEmulator {
    var requestCounts: [String: Int] { requests }
    func later() {
        advance(by: 60)
        put("Contact", fields: ["Email": "later@example.com"])
    }

    func seed(_ count: Int) {
        for n in 0..<count { put("Contact", fields: ["Email": "person\(n)@example.com", "Phone": "+1415555\(String(format: "%04d", n % 10_000))"]) }
    }

    func connectorJSON() -> String {
        """
        {"name": "bench", "provider": "salesforce", "instance_url": "\(url)", "entities": ["contact"],
         "auth": {"client_id": "\(Self.clientID)", "client_secret": "\(Self.clientSecret)"}, "mode": "shared_field"}
        """
    }
}
