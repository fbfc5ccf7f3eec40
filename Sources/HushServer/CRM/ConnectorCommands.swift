import Foundation
import HushCore
import HushStore
import Logging

/// What `hush connectors` does, through the same code as `/v1/connectors`: settings checked and
/// filled by the same presets, runs by the same runner. Answers are the API's JSON.
public struct ConnectorCommands: Sendable {
    private let routes: ConnectorRoutes
    private let runner: ConnectorRunner

    /// `timeout`: how long the CRM has to answer each request (the server's webhook timeout).
    public init(store: any Store, allowPrivateTargets: Bool, timeout: Duration = .seconds(15), logger: Logger) {
        var configuration = ServerConfiguration()
        configuration.webhooks.allowPrivateTargets = allowPrivateTargets
        configuration.webhooks.timeout = timeout
        runner = HushServer.connectorRunner(
            store: store, configuration: configuration, metrics: ServerMetrics(), logger: logger,
            owner: "cli-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
        routes = ConnectorRoutes(store: store, runner: runner, allowPrivateTargets: allowPrivateTargets, now: { Date() })
    }

    /// Creates a connector from the API's JSON body.
    public func add(json: Data, in organization: Organization) async throws -> String {
        let input = try JSONCoding.decoder.decode(Strict<ConnectorInput>.self, from: json).value
        return try encode(ConnectorJSON(try await routes.create(input, in: organization)))
    }

    public func list(in organization: OrganizationID) async throws -> String {
        try encode(ConnectorsJSON(connectors: try await routes.store.connectors(in: organization).map(ConnectorJSON.init)))
    }

    public func test(_ reference: String, in organization: OrganizationID) async throws -> String {
        try encode(try await routes.test(try await connector(reference, in: organization)))
    }

    /// Runs the connector; `ok` is false when the run ended anywhere but `ok` (throttled, a
    /// failed sign-in, an error), which the command reports by its exit status.
    public func sync(_ reference: String, in organization: OrganizationID, dryRun: Bool, full: Bool = false) async throws -> (json: String, ok: Bool) {
        let connector = try await connector(reference, in: organization)
        let report = try await runner.run(connector, dryRun: dryRun, full: full)
        return (try encode(RunJSON(dryRun: dryRun, report: report)), report.state == .ok)
    }

    public func status(_ reference: String, in organization: OrganizationID) async throws -> String {
        try encode(try await routes.status(try await connector(reference, in: organization)))
    }

    /// Shuts the CRM HTTP clients down; call once when done.
    public func shutdown() async {
        await runner.http.clients.shutdown()
    }

    /// A connector by id or name.
    private func connector(_ reference: String, in organization: OrganizationID) async throws -> Connector {
        let all = try await routes.store.connectors(in: organization)
        guard let found = all.first(where: { String($0.id.rawValue) == reference }) ?? all.first(where: { $0.name == reference }) else {
            throw HushError(.notFound, field: "connector", "no connector \"\(reference)\" in this organization")
        }
        return found
    }

    private func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONCoding.encoder
        encoder.outputFormatting.insert(.prettyPrinted)
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
