import Foundation
import HushCore
import HushStore
import HushTestSupport
import Testing
@testable import HushServer

/// What decides the records a Dynamics connector writes, beyond new ledger events: the list it
/// is moved to, addresses records gain, numbers typed with their extensions.
extension DynamicsSyncTests {
    /// A connector moved to another list decides every record again: a suppression it left out
    /// and that now applies is pushed, though no new event names it.
    @Test func aConnectorMovedToAnotherListPushesWhatNowApplies() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let kim = await crm.put("contacts", fields: ["emailaddress1": "kim@example.com"])
        let sales = try await server.store.createList(in: server.acme.id, ListDefinition(name: "sales"))
        _ = try await server.store.record(OptOut(
            subject: .address(try Address(parsing: "kim@example.com")), channel: .only(.email), list: sales.id, actor: "test"), in: server.acme.id)
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            #expect(await crm.row("contacts", kim)?.booleans["donotemail"] != true, "the sales list is not the connector's")
            let moved = try await client.send(.patch, "/v1/connectors/\(id)", key: server.admin, json: #"{"list": "sales"}"#)
            #expect(moved.status == .ok, "\(moved.json)")
            try await CRMTest.sync(client, server, id)
            #expect(await crm.row("contacts", kim)?.booleans["donotemail"] == true)
        }
    }

    /// A record that gains an address joins it to its contact, whose opt-out then blocks the
    /// address: another record carrying that address is written too, though no ledger event
    /// names it (opt-out wins across records).
    @Test func anAddressGainedByAnOptedOutRecordTicksTheOtherRecordsCarryingIt() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let contact = await crm.put("contacts", fields: ["emailaddress1": "ann@example.com"], booleans: ["donotemail": true])
        let lead = await crm.put("leads", fields: ["emailaddress1": "ann@work.example"])
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            #expect(try !CRMTest.blocked(server, "ann@work.example"))
            #expect(await crm.row("leads", lead)?.booleans["donotemail"] != true)
            await crm.put("contacts", id: contact, fields: ["emailaddress2": "ann@work.example"])
            try await CRMTest.sync(client, server, id)
            #expect(try CRMTest.blocked(server, "ann@work.example"))
            #expect(await crm.row("leads", lead)?.booleans["donotemail"] == true)
        }
    }

    /// A number typed into the CRM with its extension is read as the number, so the record's
    /// Do Not Call reaches it (it was counted invalid and left unlinked).
    @Test func aNumberWithAnExtensionIsTheNumbers() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        await crm.put("contacts", fields: ["telephone1": "(415) 555-0100 x23"], booleans: ["donotphone": true])
        try await server.test { client in
            try await client.send(.patch, "/v1/settings", key: server.admin, json: #"{"default_region": "US"}"#)
            let id = try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)
            let run = try await CRMTest.sync(client, server, id)
            #expect(run["invalid_addresses"] as? Int == 0, "\(run)")
            #expect(try CRMTest.blocked(server, "+14155550100", .voice))
        }
    }
}
