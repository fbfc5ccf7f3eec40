import Foundation
import HummingbirdTesting
import HushCore
import HushStore
import HushTestSupport
import Testing
@testable import HushServer

/// A dry run: what it answers it would read, record, write and review, and that it changes nothing.
extension DynamicsSyncTests {
    @Test func aDryRunChangesNothing() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let max = await crm.put("contacts", fields: ["emailaddress1": "max@example.com"], booleans: ["donotemail": true])
        let ned = await crm.put("contacts", fields: ["emailaddress1": "ned@example.com"])
        _ = try await server.store.record(OptOut(
            subject: .address(try Address(parsing: "ned@example.com")), channel: .only(.email), actor: "test"), in: server.acme.id)
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)
            let dry = try await CRMTest.sync(client, server, id, dryRun: true)
            #expect(dry["read"] as? Int == 2)
            #expect((dry["would_record"] as? [String])?.count == 1)
            // What the real run writes: Ned's suppression, and Max's bulk email field once the
            // opt-out it would record is in force.
            let wouldWrite = (dry["would_write"] as? [String] ?? []).sorted()
            #expect(wouldWrite.count == 2, "\(wouldWrite)")
            #expect(wouldWrite.contains { $0.contains(max) && $0.contains("donotbulkemail=true") }, "\(wouldWrite)")
            #expect(wouldWrite.contains { $0.contains(ned) && $0.contains("donotemail=true") }, "\(wouldWrite)")
            #expect(try await CRMTest.events(server).count == 1)
            #expect(try !CRMTest.blocked(server, "max@example.com"))
            #expect(await crm.patches.isEmpty)
            #expect(try await CRMTest.status(client, server, id)["first_sync_done"] as? Bool == false)
            let real = try await CRMTest.sync(client, server, id)
            #expect(real["opt_outs"] as? Int == 1)
            #expect(real["written"] as? Int == 2, "Ned's suppression goes out on the first sync, and Max's bulk email field")

            // A CRM user unticks Max's field: the dry run names the review item it would file and
            // files none; in shared_field mode nothing is written back.
            await crm.put("contacts", id: max, booleans: ["donotemail": false])
            let unticked = try await CRMTest.sync(client, server, id, dryRun: true)
            #expect((unticked["would_review"] as? [String])?.first?.contains("donotemail unticked") == true, "\(unticked)")
            #expect((unticked["would_write"] as? [String])?.isEmpty == true, "\(unticked)")
            #expect((try await client.send(.get, "/v1/review", key: server.admin).json["crm_unchecks"] as? [Any])?.isEmpty == true)
        }
    }

    /// Opt-out wins across records in a dry run too: a lead carrying the email of a contact
    /// whose field the run would record is listed as written, as the real run writes it.
    @Test func aDryRunListsTheRecordsSharingAnOptedOutAddress() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let contact = await crm.put("contacts", fields: ["emailaddress1": "kay@example.com"], booleans: ["donotemail": true])
        let lead = await crm.put("leads", fields: ["emailaddress1": "kay@example.com"])
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm, extra: #", "entities": ["contact", "lead"]"#)["id"] as? Int)
            let dry = try await CRMTest.sync(client, server, id, dryRun: true)
            let wouldWrite = (dry["would_write"] as? [String] ?? []).sorted()
            #expect(wouldWrite.contains { $0.hasPrefix("lead/\(lead) ") && $0.contains("donotemail=true") }, "\(wouldWrite)")
            #expect(wouldWrite.contains { $0.hasPrefix("contact/\(contact) ") && $0.contains("donotbulkemail=true") }, "\(wouldWrite)")
            let real = try await CRMTest.sync(client, server, id)
            #expect(real["written"] as? Int == wouldWrite.count, "the dry run listed what the run wrote: \(wouldWrite) vs \(real)")
            #expect(await crm.row("leads", lead)?.booleans["donotemail"] == true)

            // Later, a contact known from before is ticked: its lead is not in the delta read,
            // and the dry run still lists it.
            let ivy = await crm.put("contacts", fields: ["emailaddress1": "ivy@example.com"])
            let ivysLead = await crm.put("leads", fields: ["emailaddress1": "ivy@example.com"])
            try await CRMTest.sync(client, server, id)
            await crm.put("contacts", id: ivy, booleans: ["donotphone": true])
            let later = (try await CRMTest.sync(client, server, id, dryRun: true)["would_write"] as? [String] ?? []).sorted()
            #expect(later.contains { $0.hasPrefix("lead/\(ivysLead) ") && $0.contains("donotphone=true") }, "\(later)")
            #expect(try await CRMTest.sync(client, server, id)["written"] as? Int == later.count)
            #expect(await crm.row("leads", ivysLead)?.booleans["donotphone"] == true)
        }
    }

    /// In sales_field mode an untick is written back: the dry run lists that write too.
    @Test func aDryRunListsTheWriteBackOfAnUntickedSalesField() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let eve = await crm.put("contacts", fields: ["emailaddress1": "eve@example.com"], booleans: ["new_salesoptout": true])
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm, mode: "sales_field")["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            #expect(try CRMTest.blocked(server, "eve@example.com"))
            await crm.put("contacts", id: eve, booleans: ["new_salesoptout": false])
            let dry = try await CRMTest.sync(client, server, id, dryRun: true)
            #expect((dry["would_review"] as? [String])?.first?.contains("true written back") == true, "\(dry)")
            #expect(dry["would_write"] as? [String] == ["contact/\(eve) new_salesoptout=true"], "\(dry)")
            #expect(await crm.patches.isEmpty, "a dry run writes nothing")
            let real = try await CRMTest.sync(client, server, id)
            #expect(real["written"] as? Int == 1)
        }
    }

    /// A record read before the opt-out that reaches it (leads read first, the contact after)
    /// is listed too: the real run saved it, then wrote it.
    @Test func aDryRunListsARecordReadBeforeTheOptOutReachingIt() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let lead = await crm.put("leads", fields: ["emailaddress1": "lee@example.com"])
        await crm.put("contacts", fields: ["emailaddress1": "lee@example.com"], booleans: ["donotemail": true])
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm, extra: #", "entities": ["lead", "contact"]"#)["id"] as? Int)
            let dry = (try await CRMTest.sync(client, server, id, dryRun: true)["would_write"] as? [String] ?? []).sorted()
            #expect(dry.contains { $0.hasPrefix("lead/\(lead) ") && $0.contains("donotemail=true") }, "\(dry)")
            #expect(try await CRMTest.sync(client, server, id)["written"] as? Int == dry.count, "\(dry)")
        }
    }
}
