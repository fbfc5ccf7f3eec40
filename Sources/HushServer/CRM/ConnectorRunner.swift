import AsyncHTTPClient
import Foundation
import HushCore
import HushStore
import Logging
import ServiceLifecycle
import Synchronization

/// Runs connectors: for the API (`sync`, `resync`, dry runs, `test`) and for the background
/// service, one run of a connector at a time across tasks (`Turns`) and across nodes (a lease
/// in the database).
final class ConnectorRunner: Sendable {
    let engine: ConnectorEngine
    let http: CRMHTTP
    /// Whom this runner's leases name: a server's stable name (`ConnectorStore.connectorLeaseOwner`),
    /// or a command-line process's own.
    let owner: String
    /// How long a claimed connector is leased; a run renews it every third of that.
    let lease: Duration = .seconds(90)
    private let turns = Mutex<[ConnectorID: Turns]>([:])
    private let clients = Mutex<[ConnectorID: (connector: Connector, client: any CRMClient)]>([:])

    var store: ConnectorEngine.Storage { engine.store }

    init(engine: ConnectorEngine, http: CRMHTTP, owner: String) {
        self.owner = owner
        self.engine = engine
        self.http = http
    }

    /// The client for a connector, kept between runs (it holds the access token) while the
    /// connector's settings stay the same.
    func client(for connector: Connector) async throws -> any CRMClient {
        if let kept = clients.withLock({ $0[connector.id] }), kept.connector == connector { return kept.client }
        guard let secret = try await store.connectorSecret(connector.id) else {
            throw HushError(.notFound, field: "id", "no connector \(connector.id)")
        }
        let client: any CRMClient = switch connector.provider {
        case .dynamics: DynamicsClient(connector: connector, secret: secret, http: http)
        case .salesforce: SalesforceClient(connector: connector, secret: secret, http: http)
        }
        clients.withLock { $0[connector.id] = (connector, client) }
        return client
    }

    /// Forgets the kept client (the connector changed or was deleted).
    func forget(_ id: ConnectorID) {
        _ = clients.withLock { $0.removeValue(forKey: id) }
    }

    /// Runs the connector now. A dry run changes nothing and needs no lease; otherwise the run
    /// waits for one already under way in this process, and is refused when another node holds
    /// the connector.
    func run(_ connector: Connector, dryRun: Bool = false, full: Bool = false, pushOnly: Bool = false) async throws -> ConnectorEngine.Report {
        let client = try await client(for: connector)
        if dryRun { return try await engine.run(connector, client: client, dryRun: true, full: full) }
        let turn = turns.withLock { turns in
            if let turn = turns[connector.id] { return turn }
            let turn = Turns()
            turns[connector.id] = turn
            return turn
        }
        return try await turn.take {
            let now = engine.now()
            guard try await store.claimConnector(connector.id, owner: owner, until: now.addingTimeInterval(lease.seconds), now: now) else {
                throw HushError(.conflict, field: "id", "another node is running this connector; try again when its run ends")
            }
            // A long run (a first sync of many records) keeps its lease; a node that dies loses it.
            let renewal = Task {
                while !Task.isCancelled {
                    try await Task.sleep(for: lease / 3)
                    let now = engine.now()
                    // A lease lost meanwhile is noticed by the run's next save, which then saves nothing.
                    _ = try await store.claimConnector(connector.id, owner: owner, until: now.addingTimeInterval(lease.seconds), now: now)
                }
            }
            defer { renewal.cancel() }
            let report: ConnectorEngine.Report
            do {
                report = try await engine.run(connector, client: client, full: full, pushOnly: pushOnly, leaseOwner: owner)
            } catch {
                try? await store.releaseConnector(connector.id, owner: owner)
                throw error
            }
            try await store.releaseConnector(connector.id, owner: owner)
            count(report, connector.id)
            try await measure(connector)
            return report
        }
    }

    /// The gauges a run leaves: pushes waiting, seconds since the last successful read, and a
    /// throttle counted when the run ended throttled.
    private func measure(_ connector: Connector) async throws {
        guard let metrics = engine.metrics else { return }
        let state = try await store.connectorState(connector.id)
        metrics.crmGauge("hush_crm_outbox_pending", "Records with a CRM push waiting.", connector: connector.id,
                         Double(try await store.pendingPushes(of: connector.id)))
        if let success = state.lastSuccessAt {
            metrics.crmGauge("hush_crm_lag_seconds", "Seconds since the last successful read of the CRM.", connector: connector.id,
                             max(0, engine.now().timeIntervalSince(success)))
        }
        if state.health == .throttled {
            metrics.crmCount("hush_crm_throttles", "Runs the CRM throttled.", connector: connector.id)
        }
    }

    private func count(_ report: ConnectorEngine.Report, _ id: ConnectorID) {
        guard let metrics = engine.metrics else { return }
        metrics.crmCount("hush_crm_runs", "Connector runs.", connector: id)
        metrics.crmCount("hush_crm_rows_read", "CRM rows read.", connector: id, by: report.read)
        metrics.crmCount("hush_crm_opt_outs_in", "Opt-outs recorded from CRM fields.", connector: id, by: report.optOuts)
        metrics.crmCount("hush_crm_unchecks", "CRM fields unticked, filed for review.", connector: id, by: report.unchecks)
        metrics.crmCount("hush_crm_echoes_suppressed", "Hush's own CRM writes read back and ignored.", connector: id, by: report.echoes)
    }
}

/// The background service in `hush serve`: every second it looks at each enabled connector and
/// runs it when its poll interval has passed, or pushes when the ledger moved past its push
/// cursor. A throttled connector waits until the CRM said it may call again.
struct ConnectorService: Service {
    let runner: ConnectorRunner
    let tick: Duration
    /// False when the server runs no background work: the service then only shuts the CRM
    /// HTTP clients down when the server stops.
    let polls: Bool
    let logger: Logger

    func run() async throws {
        do {
            if polls { try await runner.store.releaseConnectorLeases(owner: runner.owner) }
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    if polls { await self.pass() }
                    try await Task.sleep(for: tick)
                }
            }
        } catch is CancellationError {}
        await runner.http.clients.shutdown()
    }

    private func pass() async {
        let store = runner.store
        do {
            let applied = await store.appliedSequence()
            let now = runner.engine.now()
            for connector in try await store.allConnectors() where connector.enabled {
                let state = try await store.connectorState(connector.id)
                if let retryAt = state.retryAt, retryAt > now { continue }
                let pollDue = state.lastRunAt.map { now.timeIntervalSince($0) >= Double(connector.pollSeconds) } ?? true
                var pushDue = false
                if connector.writes, state.firstSyncDone {
                    pushDue = state.pushCursor < applied
                    if !pushDue { pushDue = !(try await store.duePushes(of: connector.id, at: now, limit: 1)).isEmpty }
                }
                guard pollDue || pushDue else { continue }
                do {
                    _ = try await runner.run(connector, pushOnly: !pollDue)
                } catch let error as HushError where error.code == .conflict {
                    continue
                }
            }
        } catch {
            logger.warning("the CRM connector service could not look at its connectors", metadata: ["error": "\(error)"])
        }
    }
}
