import Foundation
import HushCore
import HushStore
import HushTestSupport
import Testing
@testable import HushServer

/// The rest of a connector's life: opt-ins pushed in sales_field mode, `connector.failed`,
/// metrics, and erasure of what connectors knew.
@Suite(.everyBackend) struct ConnectorOperationsTests {
    @Test func salesFieldPushesOptOutsAndAdminOptInsWithoutEchoes() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let eve = await crm.put("contacts", fields: ["emailaddress1": "eve@example.com"])
        try await server.test { client in
            let connector = try await CRMTest.dynamics(client, server, crm, mode: "sales_field", extra: #", "push_opt_ins": true"#)
            let id = try #require(connector["id"] as? Int)
            #expect((connector["fields"] as? [[String: Any]])?.map { $0["field"] as? String } == ["new_salesoptout"])
            #expect(connector["on_crm_uncheck"] as? String == "reassert")
            try await CRMTest.sync(client, server, id)
            _ = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "eve@example.com", "channel": "email"}"#)
            try await CRMTest.sync(client, server, id)
            #expect(await crm.row("contacts", eve)?.booleans["new_salesoptout"] == true, "an email opt-out ticks the sales field")
            #expect(await crm.row("contacts", eve)?.booleans["donotemail"] == nil)

            // A member cannot lift it; an admin with written consent can, and the untick is pushed.
            let refused = try await client.send(.post, "/v1/opt-ins", key: server.member, json: #"{"address": "eve@example.com", "channel": "email", "evidence": {"kind": "crm_consent", "reference": "c-1"}}"#)
            #expect(refused.status == .forbidden)
            let lifted = try await client.send(.post, "/v1/opt-ins", key: server.admin, json: #"{"address": "eve@example.com", "channel": "email", "evidence": {"kind": "crm_consent", "reference": "c-1"}}"#)
            #expect(lifted.status == .created || lifted.status == .ok, "\(lifted.json)")
            try await CRMTest.sync(client, server, id)
            #expect(await crm.row("contacts", eve)?.booleans["new_salesoptout"] == false)
            // Hush's own untick read back is not a CRM uncheck.
            let run = try await CRMTest.sync(client, server, id)
            #expect(run["unchecks"] as? Int == 0)
            #expect(run["echoes"] as? Int == 1)
            let review = try await client.send(.get, "/v1/review", key: server.admin)
            #expect((review.json["crm_unchecks"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func aConnectorLeavingOkIsAnnouncedAndMeasured() async throws {
        let server = try await CRMTest.server(sendsWebhooks: true)
        let crm = try await DynamicsEmulator.start()
        let receiver = try await WebhookReceiver.start()
        defer { Task { await crm.stop(); await receiver.stop() } }
        await crm.put("contacts", fields: ["emailaddress1": "ann@example.com"], booleans: ["donotemail": true])
        try await server.test { client in
            let hook = try await client.send(.post, "/v1/webhooks", key: server.admin, json: #"{"url": "\#(receiver.url)", "events": ["connector.failed"]}"#)
            #expect(hook.status == .created)
            let id = try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            await crm.throttle(5, retryAfter: 30)
            try await CRMTest.sync(client, server, id)
            let received = await receiver.waitFor(1)
            let event = try #require(received.first?.json)
            #expect(event["type"] as? String == "connector.failed")
            let data = try #require(event["data"] as? [String: Any])
            #expect(data["connector"] as? Int == id)
            #expect(data["state"] as? String == "throttled")
            #expect(data["error_code"] as? String == "0x80072322")
            // Still throttled: announced once, when it left ok.
            try await CRMTest.sync(client, server, id)

            let metrics = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
            for line in [
                #"hush_crm_runs_total{connector="\#(id)"} 3"#, #"hush_crm_opt_outs_in_total{connector="\#(id)"} 1"#,
                #"hush_crm_rows_read_total{connector="\#(id)"} 1"#, #"hush_crm_writes_total{connector="\#(id)",result="written"} 1"#,
                #"hush_crm_throttles_total{connector="\#(id)"} 2"#, #"hush_crm_outbox_pending{connector="\#(id)"} 0"#,
            ] {
                #expect(metrics.contains(line), "\(line) in \(metrics.split(separator: "\n").filter { $0.contains("crm") })")
            }
            #expect(await receiver.received.count == 1)
        }
    }

    /// A run that began before a change that resets the connector saves no state over it (its
    /// read positions are of the data before), and a run of a deleted connector saves nothing.
    @Test func aRunSavesNothingOverAResetOrADeletionMadeDuringIt() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        try await server.test { client in
            let id = ConnectorID(Int64(try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)))
            var connector = try #require(try await server.store.connector(id, in: server.acme.id))
            let now = Date()
            #expect(try await server.store.claimConnector(id, owner: "run-1", until: now.addingTimeInterval(60), now: now))
            var state = try await server.store.connectorState(id)
            state.firstSyncDone = true
            state.readPositions = ["contact": "https://old.example/delta"]
            connector.mode = .salesField
            _ = try await server.store.updateConnector(connector, secret: nil, resetting: true, in: server.acme.id)
            await #expect(throws: HushError.self) {
                _ = try await server.store.saveSync(ConnectorSync(state: state, leaseOwner: "run-1"), of: connector)
            }
            let after = try await server.store.connectorState(id)
            #expect(!after.firstSyncDone && after.readPositions.isEmpty, "the reset stands")

            #expect(try await server.store.deleteConnector(id, in: server.acme.id))
            let record = CRMRecord(key: CRMRecordKey(entity: "contact", id: "c1"), version: "1", fields: [:], addresses: [], linked: true)
            await #expect(throws: HushError.self) {
                _ = try await server.store.saveSync(ConnectorSync(records: [record], leaseOwner: "run-1"), of: connector)
            }
            #expect(try await server.store.crmRecords(of: id, after: nil, limit: 10).isEmpty)
        }
    }

    @Test func erasingAPersonRemovesTheAddressFromWhatConnectorsKnew() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        await crm.put("contacts", fields: ["emailaddress1": "zoe@example.com", "telephone1": "+14155550199"], booleans: ["donotemail": true])
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            #expect(try await server.store.crmRecords(of: ConnectorID(Int64(id)), addresses: ["zoe@example.com"]).count == 1)
            // A run that read the record before the erasure and saves it after.
            let loaded = try await server.store.crmRecords(of: ConnectorID(Int64(id)), after: nil, limit: 10)
            let connector = try #require(try await server.store.connector(ConnectorID(Int64(id)), in: server.acme.id))
            let erased = try await client.send(.post, "/v1/erasures", key: server.admin, json: #"{"address": "zoe@example.com"}"#)
            #expect(erased.status == .ok || erased.status == .created || erased.status == .noContent, "\(erased.json)")
            #expect(try await server.store.crmRecords(of: ConnectorID(Int64(id)), addresses: ["zoe@example.com"]).isEmpty)
            _ = try await server.store.saveSync(ConnectorSync(records: loaded), of: connector)
            #expect(try await server.store.crmRecords(of: ConnectorID(Int64(id)), addresses: ["zoe@example.com"]).isEmpty, "a save brings no erased address back")
            let records = try await server.store.crmRecords(of: ConnectorID(Int64(id)), after: nil, limit: 10)
            #expect(records.first?.addresses == ["+14155550199"])
            #expect(try CRMTest.blocked(server, "zoe@example.com"), "still suppressed after erasure")
        }
    }
}
