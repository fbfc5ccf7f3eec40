import Foundation
import HummingbirdTesting
import HushCore
import HushStore
import HushTestSupport
import Testing
@testable import HushServer

/// CRM sync with Salesforce end to end, against a REST API emulator on loopback.
@Suite(.everyBackend) struct SalesforceSyncTests {
    @Test func sharedFieldBothWaysInCompositeBatches() async throws {
        let server = try await CRMTest.server()
        let crm = try await SalesforceEmulator.start()
        defer { Task { await crm.stop() } }
        let ann = await crm.put("Contact", fields: ["Email": "ann@example.com", "Phone": "+14155550100"], booleans: ["HasOptedOutOfEmail": true])
        var leads: [String] = []
        for n in 0..<450 { leads.append(await crm.put("Lead", fields: ["Email": "lead\(n)@example.com"])) }
        let people = leads
        try await server.test { client in
            let connector = try await CRMTest.salesforce(client, server, crm)
            let id = try #require(connector["id"] as? Int)
            let first = try await CRMTest.sync(client, server, id)
            #expect(first["opt_outs"] as? Int == 1)
            #expect(first["read"] as? Int == 451)
            #expect(try CRMTest.blocked(server, "ann@example.com"))
            let event = try #require(try await CRMTest.events(server).first)
            #expect(event.actor == "crm:\(id):\(SalesforceEmulator.salesUser)")
            #expect(event.evidence.fields["provider"] == .string("salesforce"))
            #expect(event.subject == .contact("crm:\(id):contact:\(ann)"))

            let addresses = (0..<450).map { #""lead\#($0)@example.com""# }.joined(separator: ",")
            let written = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"addresses": [\#(addresses)], "channel": "email"}"#)
            #expect(written.status == .created)
            let second = try await CRMTest.sync(client, server, id)
            #expect(second["written"] as? Int == 450)
            #expect(await crm.compositeSizes == [200, 200, 50])
            #expect(await crm.record(people[449])?.booleans["HasOptedOutOfEmail"] == true)
            #expect(await crm.record(people[0])?.booleans["DoNotCall"] == nil)

            let before = try await CRMTest.events(server).count
            let third = try await CRMTest.sync(client, server, id)
            #expect(third["echoes"] as? Int == 450)
            #expect(third["written"] as? Int == 0)
            #expect(try await CRMTest.events(server).count == before)
        }
    }

    @Test func aCRMTickSavedJustBeforeHushsWriteIsStillRecorded() async throws {
        let server = try await CRMTest.server()
        let crm = try await SalesforceEmulator.start()
        defer { Task { await crm.stop() } }
        let ann = await crm.put("Contact", fields: ["Email": "ann@example.com", "Phone": "+14155550100"])
        try await server.test { client in
            let id = try #require(try await CRMTest.salesforce(client, server, crm)["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            _ = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "email"}"#)
            await crm.changeBeforeNextWrite(ann, booleans: ["DoNotCall": true])
            try await CRMTest.sync(client, server, id)
            #expect(await crm.record(ann)?.modifiedBy == SalesforceEmulator.integrationUser)
            // Last saved by Hush, but Do Not Call is not a value Hush wrote: the CRM user's opt-out counts.
            let run = try await CRMTest.sync(client, server, id)
            #expect(run["opt_outs"] as? Int == 1)
            #expect(try CRMTest.blocked(server, "+14155550100", .voice))
        }
    }

    @Test func deletedRecordsAreNoLongerPushedAndAnExpiredWindowResyncs() async throws {
        let server = try await CRMTest.server()
        let crm = try await SalesforceEmulator.start()
        defer { Task { await crm.stop() } }
        let gone = await crm.put("Contact", fields: ["Email": "gone@example.com"])
        let kept = await crm.put("Lead", fields: ["Email": "gone@example.com"], booleans: ["DoNotCall": true])
        try await server.test { client in
            let id = try #require(try await CRMTest.salesforce(client, server, crm)["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            // Opt-out wins across records: the lead's Do Not Call ticks the contact with the same email.
            #expect(await crm.record(gone)?.booleans["DoNotCall"] == true)
            #expect(await crm.compositeSizes == [1])
            await crm.delete(gone)
            let run = try await CRMTest.sync(client, server, id)
            #expect(run["deleted"] as? Int == 1)
            _ = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "gone@example.com", "channel": "email"}"#)
            try await CRMTest.sync(client, server, id)
            #expect(await crm.compositeSizes == [1, 1], "only the lead is written")
            #expect(await crm.record(kept)?.booleans["HasOptedOutOfEmail"] == true)
            // The deleted record's contact keeps its link: deleting a CRM record opts nobody in.
            #expect(try CRMTest.blocked(server, "gone@example.com"))

            let events = try await CRMTest.events(server).count
            await crm.forgetDeletions()
            let resynced = try await CRMTest.sync(client, server, id)
            #expect(resynced["resynced"] as? [String] == ["contact", "lead"])
            #expect(try await CRMTest.events(server).count == events)
        }
    }

    /// A server, a Salesforce emulator holding one contact (ann@example.com), and a connector
    /// made on them through the API.
    private func withAnnsConnector(_ body: @Sendable (any TestClientProtocol, TestServer, SalesforceEmulator, Int) async throws -> Void) async throws {
        let server = try await CRMTest.server()
        let crm = try await SalesforceEmulator.start()
        defer { Task { await crm.stop() } }
        await crm.put("Contact", fields: ["Email": "ann@example.com"])
        try await server.test { client in
            try await body(client, server, crm, try #require(try await CRMTest.salesforce(client, server, crm)["id"] as? Int))
        }
    }

    /// A composite write that fails as a whole (503) fails each of its records once, which then
    /// back off: the next run does not send them again at once.
    @Test func aWriteThatFailsWholeBacksOff() async throws {
        try await withAnnsConnector { client, server, crm, id in
            try await CRMTest.sync(client, server, id)
            try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "email"}"#)
            await crm.failWrites(1)
            let failed = try await CRMTest.sync(client, server, id)
            #expect(failed["write_failures"] as? Int == 1, "\(failed)")
            let again = try await CRMTest.sync(client, server, id)
            #expect(again["written"] as? Int == 0, "\(again)")
            #expect(await crm.requests["composite"] == 1)
        }
    }

    @Test func theDailyLimitThrottlesWithTheVendorsCodeAndTestChecksTheFields() async throws {
        try await withAnnsConnector { client, server, crm, id in
            let test = try await client.send(.post, "/v1/connectors/\(id)/test", key: server.admin)
            #expect(test.json["ok"] as? Bool == true, "\(test.json)")
            #expect(test.json["integration_user"] as? String == SalesforceEmulator.integrationUser)
            let changed = try await client.send(.patch, "/v1/connectors/\(id)", key: server.admin, json: #"{"sms_field": "Nope__c"}"#)
            #expect((changed.json["fields"] as? [[String: Any]])?.last?["field"] as? String == "Nope__c")
            let failing = try await client.send(.post, "/v1/connectors/\(id)/test", key: server.admin)
            #expect(failing.json["ok"] as? Bool == false)
            #expect((failing.json["problems"] as? [String])?.contains { $0.contains("Nope__c") } == true)
            _ = try await client.send(.patch, "/v1/connectors/\(id)", key: server.admin, json: #"{"sms_field": "et4ae5__HasOptedOutOfMobile__c"}"#)

            await crm.limitRequests(to: 0)
            try await CRMTest.sync(client, server, id)
            let status = try await CRMTest.status(client, server, id)
            #expect(status["state"] as? String == "throttled")
            #expect((status["last_error"] as? [String: Any])?["code"] as? String == "REQUEST_LIMIT_EXCEEDED")
            let log = try await client.send(.get, "/v1/connectors/\(id)/log", key: server.admin)
            #expect((log.json["entries"] as? [[String: Any]])?.first?["kind"] as? String == "throttle")
        }
    }
}
