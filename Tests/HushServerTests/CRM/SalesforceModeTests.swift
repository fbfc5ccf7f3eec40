import CRMEmulators
import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// Salesforce in the other two configurations, through query pages smaller than the records
/// (as Salesforce may answer): `sales_field` both ways with an untick written back, and
/// `hush_only`, which reads fields in and writes nothing.
@Suite(.everyBackend) struct SalesforceModeTests {
    @Test func salesFieldBothWaysAcrossPagesAndAnUntickIsWrittenBack() async throws {
        let server = try await CRMTest.server()
        let crm = try await SalesforceEmulator.start()
        defer { Task { await crm.stop() } }
        await crm.limitPages(to: 10)
        var contacts: [String] = []
        for n in 0..<25 {
            contacts.append(await crm.put("Contact", fields: ["Email": "p\(n)@example.com"], booleans: ["Sales_Opt_Out__c": [4, 14, 24].contains(n)]))
        }
        let people = contacts
        try await server.test { client in
            let connector = try await CRMTest.salesforce(client, server, crm, mode: "sales_field")
            let id = try #require(connector["id"] as? Int)
            #expect((connector["fields"] as? [[String: Any]])?.map { $0["field"] as? String } == ["Sales_Opt_Out__c"])
            #expect(connector["on_crm_uncheck"] as? String == "reassert")
            let first = try await CRMTest.sync(client, server, id)
            #expect(first["read"] as? Int == 25, "every page is read: \(first)")
            #expect(first["opt_outs"] as? Int == 3)
            for n in 0..<25 { #expect(try CRMTest.blocked(server, "p\(n)@example.com") == [4, 14, 24].contains(n), "p\(n)") }
            #expect(await crm.compositeSizes.isEmpty, "nothing differs yet")
            // The day's API usage as Salesforce counts it, surfaced in the status.
            let usage = try #require(try await CRMTest.status(client, server, id)["api_usage"] as? String)
            #expect(usage.hasPrefix("api-usage=") && usage.hasSuffix("/15000"), "\(usage)")

            // Hush's opt-out ticks the sales field only; the marketing field is left alone.
            _ = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "p7@example.com", "channel": "sms"}"#)
            _ = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "p8@example.com", "channel": "email"}"#)
            try await CRMTest.sync(client, server, id)
            #expect(await crm.record(people[8])?.booleans["Sales_Opt_Out__c"] == true)
            #expect(await crm.record(people[8])?.booleans["HasOptedOutOfEmail"] == nil)
            #expect(await crm.record(people[7])?.booleans["Sales_Opt_Out__c"] == false, "p7 has no phone in the CRM: its sms opt-out reaches no mapped address")

            // A CRM user unticks p14: a review item, the field ticked again, the opt-out kept.
            await crm.put("Contact", id: people[14], booleans: ["Sales_Opt_Out__c": false])
            let unticked = try await CRMTest.sync(client, server, id)
            #expect(unticked["unchecks"] as? Int == 1)
            #expect(await crm.record(people[14])?.booleans["Sales_Opt_Out__c"] == true)
            #expect(try CRMTest.blocked(server, "p14@example.com"), "a sync never opts anyone in")
            let review = try #require((try await client.send(.get, "/v1/review", key: server.admin).json["crm_unchecks"] as? [[String: Any]])?.first)
            #expect(review["field"] as? String == "Sales_Opt_Out__c" && review["reasserted"] as? Bool == true, "\(review)")

            // Hush's own writes read back record nothing.
            let events = try await CRMTest.events(server).count
            let again = try await CRMTest.sync(client, server, id)
            #expect(again["unchecks"] as? Int == 0 && again["opt_outs"] as? Int == 0, "\(again)")
            #expect(try await CRMTest.events(server).count == events)
        }
    }

    @Test func hushOnlyReadsFieldsInAndWritesNothing() async throws {
        let server = try await CRMTest.server()
        let crm = try await SalesforceEmulator.start()
        defer { Task { await crm.stop() } }
        await crm.limitPages(to: 2)
        _ = try await server.store.record(OptOut(
            subject: .address(try Address(parsing: "gone@example.com")), channel: .all, actor: "test"), in: server.acme.id)
        let gone = await crm.put("Contact", fields: ["Email": "gone@example.com"])
        await crm.put("Contact", fields: ["Email": "cat@example.com", "Phone": "+14155550123"], booleans: ["DoNotCall": true])
        await crm.put("Lead", fields: ["Email": "dan@example.com"])
        await crm.put("Lead", fields: ["Email": "eve@example.com"], booleans: ["HasOptedOutOfEmail": true])
        try await server.test { client in
            let id = try #require(try await CRMTest.salesforce(client, server, crm, mode: "hush_only", extra: #", "skip_opted_out": true"#)["id"] as? Int)
            let run = try await CRMTest.sync(client, server, id)
            #expect(run["read"] as? Int == 4)
            #expect(run["skipped"] as? Int == 1)
            #expect(try await server.store.contact(try ContactID(parsing: "crm:\(id):contact:\(gone)"), in: server.acme.id) == nil)
            #expect(try CRMTest.blocked(server, "+14155550123", .voice), "fields are still read in")
            #expect(try CRMTest.blocked(server, "eve@example.com"))
            _ = try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "dan@example.com", "channel": "all"}"#)
            try await CRMTest.sync(client, server, id)
            #expect(await crm.compositeSizes.isEmpty, "hush_only writes nothing to the CRM")
            let refused = try await client.send(.patch, "/v1/connectors/\(id)", key: server.admin, json: #"{"push_opt_ins": true}"#)
            #expect(refused.status == .badRequest)
        }
    }
}
