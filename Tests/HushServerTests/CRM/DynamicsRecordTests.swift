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

    /// A contact deleted in Dynamics comes in a delta read as `$deletedEntity`: it is never
    /// written to again, and its Hush contact's opt-out still blocks its address (a deleted
    /// record opts nobody in). Entities the connector reads: contact and lead.
    @Test func aDeletedEntityIsNeverWrittenAgainAndOptsNobodyIn() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let gone = await crm.put("contacts", fields: ["emailaddress1": "gone@example.com"], booleans: ["donotemail": true])
        let lead = await crm.put("leads", fields: ["emailaddress1": "gone@example.com"])
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm, extra: #", "entities": ["contact", "lead"]"#)["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            #expect(try CRMTest.blocked(server, "gone@example.com"))
            #expect(await crm.row("leads", lead)?.booleans["donotemail"] == true, "opt-out wins across records")
            await crm.delete("contacts", id: gone)
            let run = try await CRMTest.sync(client, server, id)
            #expect(run["deleted"] as? Int == 1, "\(run)")
            #expect(try CRMTest.blocked(server, "gone@example.com"), "deleting the CRM record opts nobody in")

            // A new opt-out of the address reaches the lead, never the deleted contact.
            let patches = await crm.patches.count
            _ = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "gone@example.com", "channel": "all"}"#)
            try await CRMTest.sync(client, server, id)
            #expect(await crm.row("leads", lead)?.booleans["donotphone"] == true)
            #expect(await crm.patches.dropFirst(patches).allSatisfy { $0.id != gone }, "nothing is written to a deleted record")
        }
    }

    /// Service protection: a 429 halves the `$batch` requests the client sends at once (down to
    /// one), and each write that is not throttled grows it back by one, up to four.
    @Test func aThrottleHalvesTheBatchesSentAtOnce() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let ann = await crm.put("contacts", fields: ["emailaddress1": "ann@example.com"])
        try await server.test { client in
            _ = try await CRMTest.dynamics(client, server, crm)
            let connector = try #require(try await server.store.connectors(in: server.acme.id).first)
            let http = CRMHTTP(clients: LazyHTTPClients(timeout: .seconds(30)), allowPrivateTargets: true, timeout: .seconds(30))
            let dynamics = DynamicsClient(connector: connector, secret: DynamicsEmulator.clientSecret, http: http)
            let version = try #require(await crm.row("contacts", ann)).version
            let write = CRMWrite(key: CRMRecordKey(entity: "contact", id: ann), version: "W/\"\(version)\"", fields: ["donotemail": true])
            #expect(await dynamics.concurrency == 4)
            await crm.throttleWrites(retryAfter: 1)
            for expected in [2, 1, 1] {
                let results = try await dynamics.write([write])
                guard case .throttled = results.first else { Issue.record("\(results)"); break }
                #expect(await dynamics.concurrency == expected)
            }
            await crm.allowWrites()
            let written = try await dynamics.write([write])
            guard case .written = written.first else { Issue.record("\(written)"); return }
            #expect(await dynamics.concurrency == 2)
            await http.clients.shutdown()
        }
    }

    /// Dataverse may answer in pages smaller than `odata.maxpagesize`: the connector follows
    /// `@odata.nextLink` to the end, keeps the delta link of the last page, and reads only what
    /// changed next time, across pages too.
    @Test func readsFollowEveryNextLinkAndKeepTheLastPagesDeltaLink() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        await crm.limitPages(to: 4)
        var ids: [String] = []
        for n in 0..<10 { ids.append(await crm.put("contacts", fields: ["emailaddress1": "page\(n)@example.com"], booleans: ["donotemail": n % 4 == 1])) }
        let people = ids
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)
            let first = try await CRMTest.sync(client, server, id)
            #expect(first["read"] as? Int == 10 && first["opt_outs"] as? Int == 3, "\(first)")
            for n in [1, 5, 9] { #expect(try CRMTest.blocked(server, "page\(n)@example.com")) }
            for n in [0, 2, 3, 4, 6, 7, 8] {
                await crm.put("contacts", id: people[n], booleans: ["donotphone": n == 8])
            }
            let delta = try await CRMTest.sync(client, server, id)
            // Only what changed since, over three pages: the seven edits, and the three records
            // Hush itself wrote on the first sync (their bulk email field), read back as echoes.
            #expect(delta["read"] as? Int == 10 && delta["echoes"] as? Int == 3 && delta["opt_outs"] as? Int == 1, "\(delta)")
            let quiet = try await CRMTest.sync(client, server, id)
            #expect(quiet["read"] as? Int == 0, "\(quiet)")
        }
    }
}
