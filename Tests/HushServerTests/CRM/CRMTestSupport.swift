import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushStore
import HushTestSupport
import Testing
@testable import HushServer

/// What the CRM sync tests share: a server whose connectors run only when a test asks
/// (`POST /v1/connectors/{id}/sync`), private targets allowed (the emulators are on loopback).
enum CRMTest {
    static func server(runsConnectors: Bool = false, sendsWebhooks: Bool = false) async throws -> TestServer {
        var configuration = ServerConfiguration(webhooks: WebhookSettings(allowPrivateTargets: true, pollInterval: .milliseconds(20)), sendsWebhooks: sendsWebhooks)
        configuration.runsConnectors = runsConnectors
        configuration.connectorTick = .milliseconds(50)
        return try await TestServer(configuration: configuration)
    }

    /// Creates a Dynamics connector for the emulator; returns its JSON.
    static func dynamics(
        _ client: some TestClientProtocol, _ server: TestServer, _ crm: DynamicsEmulator, mode: String = "shared_field", name: String = "dyn",
        extra: String = ""
    ) async throws -> [String: Any] {
        let created = try await client.send(.post, "/v1/connectors", key: server.admin, json: """
            {"name": "\(name)", "provider": "dynamics", "instance_url": "\(await crm.url)", "token_url": "\(await crm.tokenURL)",
             "auth": {"tenant": "\(DynamicsEmulator.tenant)", "client_id": "\(DynamicsEmulator.clientID)", "client_secret": "\(DynamicsEmulator.clientSecret)"},
             "mode": "\(mode)", "sms_field": "isp_donotallowsms"\(extra)}
            """)
        #expect(created.status == .created, "\(created.json)")
        return created.json
    }

    static func salesforce(
        _ client: some TestClientProtocol, _ server: TestServer, _ crm: SalesforceEmulator, mode: String = "shared_field", extra: String = ""
    ) async throws -> [String: Any] {
        let created = try await client.send(.post, "/v1/connectors", key: server.admin, json: """
            {"name": "sf", "provider": "salesforce", "instance_url": "\(await crm.url)",
             "auth": {"client_id": "\(SalesforceEmulator.clientID)", "client_secret": "\(SalesforceEmulator.clientSecret)"},
             "mode": "\(mode)", "sms_field": "et4ae5__HasOptedOutOfMobile__c"\(extra)}
            """)
        #expect(created.status == .created, "\(created.json)")
        return created.json
    }

    /// Runs the connector now; returns the run's report.
    @discardableResult
    static func sync(_ client: some TestClientProtocol, _ server: TestServer, _ id: Int, dryRun: Bool = false) async throws -> [String: Any] {
        let run = try await client.send(.post, "/v1/connectors/\(id)/sync\(dryRun ? "?dry_run=true" : "")", key: server.admin)
        #expect(run.status == .ok, "\(run.json)")
        return run.json["report"] as? [String: Any] ?? [:]
    }

    static func status(_ client: some TestClientProtocol, _ server: TestServer, _ id: Int) async throws -> [String: Any] {
        try await client.send(.get, "/v1/connectors/\(id)/status", key: server.admin).json
    }

    /// Whether a check at the organization, honouring the default list, is blocked.
    static func blocked(_ server: TestServer, _ address: String, _ channel: Channel = .email, scope: Scope = .organization) throws -> Bool {
        !server.store.decision(for: try Address(parsing: address), in: server.acme.id, query: CheckQuery(channel: channel, scope: scope)).allowed
    }

    static func events(_ server: TestServer) async throws -> [LedgerEvent] {
        try await server.store.events(in: server.acme.id, after: 0, limit: 10_000, address: nil)
    }
}
