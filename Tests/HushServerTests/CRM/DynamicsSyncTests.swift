import Foundation
import HushCore
import HushStore
import HushTestSupport
import Testing
@testable import HushServer

/// CRM sync with Dynamics 365 end to end: connectors made through the API, run through
/// `POST /v1/connectors/{id}/sync`, against a Dataverse emulator on loopback.
@Suite(.everyBackend) struct DynamicsSyncTests {
    @Test func sharedFieldCarriesOptOutsBothWaysAndRecognisesItsOwnWrites() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let ann = await crm.put("contacts", fields: ["emailaddress1": "Ann@Example.com", "telephone1": "+14155550100"], booleans: ["donotemail": true])
        let bob = await crm.put("contacts", fields: ["emailaddress1": "bob@example.com", "telephone1": "+14155550111"])
        try await server.test { client in
            let connector = try await CRMTest.dynamics(client, server, crm)
            let id = try #require(connector["id"] as? Int)
            #expect(connector["presets"] as? [String] == ["fields", "match"])
            #expect((connector["auth"] as? [String: Any])?["client_secret"] == nil)

            // CRM → Hush: Ann's Do Not Allow Emails becomes an opt-out of her contact, at the connector's scope.
            let first = try await CRMTest.sync(client, server, id)
            #expect(first["opt_outs"] as? Int == 1)
            #expect(try CRMTest.blocked(server, "ann@example.com"))
            #expect(try !CRMTest.blocked(server, "+14155550100", .voice))
            let event = try #require(try await CRMTest.events(server).first)
            #expect(event.source == .crm)
            #expect(event.actor == "crm:\(id):\(DynamicsEmulator.salesUser)")
            #expect(event.subject == .contact("crm:\(id):contact:\(ann)"))
            #expect(event.evidence.fields["field"] == .string("donotemail"))
            #expect(event.evidence.fields["new"] == .bool(true))
            #expect(event.evidence.fields["record_id"] == .string(ann))
            // Ann's opt-out of email ticks the other email field too (bulk email), and nothing else.
            #expect(await crm.row("contacts", ann)?.booleans == ["donotemail": true, "donotbulkemail": true])
            #expect(await crm.patches.count == 1)

            // Hush → CRM: Bob opts out of everything; every mapped Do-Not field is ticked, with If-Match.
            let optOut = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "bob@example.com", "channel": "all"}"#)
            #expect(optOut.status == .created)
            let second = try await CRMTest.sync(client, server, id)
            #expect(second["written"] as? Int == 1)
            let row = try #require(await crm.row("contacts", bob))
            #expect(row.booleans == ["donotemail": true, "donotbulkemail": true, "donotphone": true, "isp_donotallowsms": true])
            let patch = try #require(await crm.patches.last)
            #expect(patch.ifMatch?.hasPrefix("W/\"") == true)
            #expect(patch.id == bob)

            // The write comes back in the next delta read: recognised, nothing recorded.
            let before = try await CRMTest.events(server).count
            let third = try await CRMTest.sync(client, server, id)
            #expect(third["echoes"] as? Int == 1, "Bob's record, read back as Hush wrote it")
            #expect(third["opt_outs"] as? Int == 0)
            #expect(third["written"] as? Int == 0, "a value already equal is not written")
            #expect(try await CRMTest.events(server).count == before)
            #expect(await crm.patches.count == 2)
        }
    }

    @Test func aFieldUntickedInTheCRMIsReviewedAndNeverAnOptIn() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let ann = await crm.put("contacts", fields: ["emailaddress1": "ann@example.com"], booleans: ["new_salesoptout": true])
        try await server.test { client in
            // sales_field: reassert by default.
            let id = try #require(try await CRMTest.dynamics(client, server, crm, mode: "sales_field")["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            #expect(try CRMTest.blocked(server, "ann@example.com"))
            await crm.put("contacts", id: ann, booleans: ["new_salesoptout": false])
            let run = try await CRMTest.sync(client, server, id)
            #expect(run["unchecks"] as? Int == 1)
            #expect(try CRMTest.blocked(server, "ann@example.com"), "a sync never opts anyone in")
            #expect(await crm.row("contacts", ann)?.booleans["new_salesoptout"] == true, "written back")
            #expect(await crm.row("contacts", ann)?.booleans["donotemail"] == nil, "the marketing field is left alone")
            let review = try await client.send(.get, "/v1/review", key: server.member)
            let item = try #require((review.json["crm_unchecks"] as? [[String: Any]])?.first)
            #expect(item["kind"] as? String == "crm_uncheck")
            #expect(item["record_id"] as? String == ann)
            #expect(item["field"] as? String == "new_salesoptout")
            #expect(item["crm_user"] as? String == DynamicsEmulator.salesUser)
            #expect(item["reasserted"] as? Bool == true)

            // A member cannot settle it; an admin dismisses it, and lifts the opt-out only with evidence.
            let itemID = try #require(item["id"] as? Int)
            #expect(try await client.send(.post, "/v1/review/crm/\(itemID)", key: server.member, json: #"{"decision": "dismiss"}"#).status == .forbidden)
            #expect(try await client.send(.post, "/v1/review/crm/\(itemID)", key: server.admin, json: #"{"decision": "dismiss"}"#).status == .noContent)
            let after = try await client.send(.get, "/v1/review", key: server.admin)
            #expect((after.json["crm_unchecks"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func sharedFieldLeavesAnUntickedMarketingFieldAsTheCRMHasIt() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let ann = await crm.put("contacts", fields: ["emailaddress1": "ann@example.com"], booleans: ["donotemail": true])
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            let patches = await crm.patches.count
            await crm.put("contacts", id: ann, booleans: ["donotemail": false])
            let run = try await CRMTest.sync(client, server, id)
            #expect(run["unchecks"] as? Int == 1)
            #expect(await crm.row("contacts", ann)?.booleans["donotemail"] == false)
            #expect(await crm.patches.count == patches, "review only: nothing written")
            #expect(try CRMTest.blocked(server, "ann@example.com"))
            // Read again in full, the field stays as the CRM has it...
            _ = try await client.send(.post, "/v1/connectors/\(id)/resync", key: server.admin)
            #expect(await crm.row("contacts", ann)?.booleans["donotemail"] == false)
            // ...until a new opt-out of the person.
            _ = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "ann@example.com", "channel": "all"}"#)
            try await CRMTest.sync(client, server, id)
            #expect(await crm.row("contacts", ann)?.booleans["donotemail"] == true)
        }
    }

    @Test func hushOnlyWritesNothingAndCanSkipOptedOutPeople() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        _ = try await server.store.record(OptOut(
            subject: .address(try Address(parsing: "gone@example.com")), channel: .only(.email), actor: "test"), in: server.acme.id)
        let gone = await crm.put("contacts", fields: ["emailaddress1": "gone@example.com"])
        await crm.put("contacts", fields: ["emailaddress1": "cat@example.com"], booleans: ["donotphone": true, "donotemail": true])
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm, mode: "hush_only", extra: #", "skip_opted_out": true"#)["id"] as? Int)
            let run = try await CRMTest.sync(client, server, id)
            #expect(run["skipped"] as? Int == 1)
            #expect(try await server.store.contact(try ContactID(parsing: "crm:\(id):contact:\(gone)"), in: server.acme.id) == nil)
            #expect(try CRMTest.blocked(server, "cat@example.com"), "fields are still read in")
            _ = try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "dan@example.com", "channel": "all"}"#)
            await crm.put("contacts", fields: ["emailaddress1": "dan@example.com"])
            try await CRMTest.sync(client, server, id)
            #expect(await crm.patches.isEmpty, "hush_only writes nothing to the CRM")
            let refused = try await client.send(.patch, "/v1/connectors/\(id)", key: server.admin, json: #"{"push_opt_ins": true}"#)
            #expect(refused.status == .badRequest)
        }
    }

    /// `skip_opted_out` skips no record that says "Do Not": its opt-out is recorded on its own
    /// contact, so an admin lifting Hush's own opt-out of the address leaves the CRM's in force.
    @Test func aRecordThatSaysDoNotIsNotSkipped() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "eli@example.com", "channel": "email"}"#)
            await crm.put("contacts", fields: ["emailaddress1": "eli@example.com"], booleans: ["donotemail": true])
            let id = try #require(try await CRMTest.dynamics(client, server, crm, mode: "hush_only", extra: #", "skip_opted_out": true"#)["id"] as? Int)
            let run = try await CRMTest.sync(client, server, id)
            #expect(run["skipped"] as? Int == 0)
            #expect(run["opt_outs"] as? Int == 1)
            let lifted = try await client.send(.post, "/v1/opt-ins", key: server.admin, json: #"{"address": "eli@example.com", "channel": "email", "evidence": {"kind": "written_consent", "reference": "ticket-9"}}"#)
            #expect(lifted.json["lifted"] is [String: Any], "\(lifted.json)")
            #expect(try CRMTest.blocked(server, "eli@example.com"), "the CRM's Do Not Email stands")
        }
    }

    @Test func optOutWinsAcrossRecordsAndAddresses() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let two = await crm.put("contacts", fields: ["emailaddress1": "eve@example.com", "emailaddress2": "eve@work.example"])
        let lead = await crm.put("leads", fields: ["emailaddress1": "eve@work.example"])
        let other = await crm.put("contacts", fields: ["emailaddress1": "fay@example.com"], booleans: ["donotemail": true])
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            // A Hush opt-out of one address ticks the contact and the lead that carry it.
            _ = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "eve@work.example", "channel": "email"}"#)
            try await CRMTest.sync(client, server, id)
            #expect(await crm.row("contacts", two)?.booleans["donotemail"] == true)
            #expect(await crm.row("leads", lead)?.booleans["donotemail"] == true)
            #expect(await crm.row("contacts", other)?.booleans["donotphone"] == nil)
            // A CRM opt-out on a record with two emails stops both.
            await crm.put("contacts", id: two, booleans: ["donotphone": true])
            await crm.put("contacts", fields: ["emailaddress1": "gus@example.com", "emailaddress2": "gus@home.example"], booleans: ["donotemail": true])
            try await CRMTest.sync(client, server, id)
            #expect(try CRMTest.blocked(server, "gus@example.com"))
            #expect(try CRMTest.blocked(server, "gus@home.example"))
        }
    }

    @Test func pushesOnlyWhatACheckAtTheConnectorsScopeWouldBlock() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let rep = await crm.put("contacts", fields: ["emailaddress1": "hal@example.com"])
        let held = await crm.put("contacts", fields: ["emailaddress1": "ida@example.com"])
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            _ = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "hal@example.com", "channel": "email", "scope": "rep-7"}"#)
            let heldOut = try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "ida@example.com", "channel": "email", "hold": true}"#)
            #expect(heldOut.status == .created)
            try await CRMTest.sync(client, server, id)
            #expect(await crm.row("contacts", rep)?.booleans["donotemail"] == nil, "a rep's opt-out does not flip an org-wide field")
            #expect(await crm.row("contacts", held)?.booleans["donotemail"] == true, "held opt-outs push like any other")
        }
    }

    @Test func throttlingWaitsForRetryAfterAndAStaleWriteIsReadAgain() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let jo = await crm.put("contacts", fields: ["emailaddress1": "jo@example.com"])
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            await crm.throttle(1, retryAfter: 30)
            try await CRMTest.sync(client, server, id)
            let throttled = try await CRMTest.status(client, server, id)
            #expect(throttled["state"] as? String == "throttled")
            #expect((throttled["last_error"] as? [String: Any])?["code"] as? String == "0x80072322")
            #expect(throttled["retry_at"] as? String != nil)

            // 412: Jo's record changed between the read and the write; Hush reads it again and writes at the new version.
            _ = try await client.send(.post, "/v1/opt-outs", key: server.member, json: #"{"address": "jo@example.com", "channel": "email"}"#)
            await crm.changeBeforeNextWrite(jo)
            let run = try await CRMTest.sync(client, server, id)
            #expect(run["stale"] as? Int == 1)
            #expect(await crm.row("contacts", jo)?.booleans["donotemail"] == true)
            #expect(await crm.patches.filter { $0.id == jo }.count == 2)
            #expect(try await CRMTest.status(client, server, id)["state"] as? String == "ok")
        }
    }

    @Test func anExpiredDeltaTokenReadsEverythingAgainWithoutDuplicateEvents() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        await crm.put("contacts", fields: ["emailaddress1": "kim@example.com"], booleans: ["donotemail": true])
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            #expect(try await CRMTest.events(server).count == 1)
            await crm.expireDeltaTokens()
            await crm.put("contacts", fields: ["emailaddress1": "lou@example.com"], booleans: ["donotphone": true])
            let run = try await CRMTest.sync(client, server, id)
            #expect(run["resynced"] as? [String] == ["contact", "lead"])
            #expect(try await CRMTest.events(server).count == 2, "Kim's opt-out is not recorded twice")
            // A resync asked for reads everything too, and records nothing new.
            let resync = try await client.send(.post, "/v1/connectors/\(id)/resync", key: server.admin)
            #expect(resync.status == .ok)
            #expect(try await CRMTest.events(server).count == 2)
        }
    }

    @Test func aWriteAnotherProcessMadeIsPushedOnceThisServerHasIt() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        let kit = await crm.put("contacts", fields: ["emailaddress1": "kit@example.com"])
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            // Another node (or the CLI) records the opt-out; this server may not have applied it yet.
            let other = try await server.anotherNode(loadsIndex: false)
            _ = try await other.record(OptOut(subject: .address(try Address(parsing: "kit@example.com")), channel: .only(.email), actor: "t"), in: server.acme.id)
            try await CRMTest.sync(client, server, id)
            let pushedAtOnce = await crm.row("contacts", kit)?.booleans["donotemail"] == true
            if !pushedAtOnce {
                #expect((try await CRMTest.status(client, server, id))["ledger_behind"] as? Int ?? 0 >= 1, "not applied yet, so not passed over")
            }
            try await server.store.catchUp()
            try await CRMTest.sync(client, server, id)
            #expect(await crm.row("contacts", kit)?.booleans["donotemail"] == true)
        }
    }

    @Test func aConnectorPointedAtOtherDataSyncsFromTheStart() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        await crm.put("contacts", fields: ["emailaddress1": "lea@example.com"], booleans: ["new_salesoptout": true])
        try await server.test { client in
            let id = try #require(try await CRMTest.dynamics(client, server, crm)["id"] as? Int)
            try await CRMTest.sync(client, server, id)
            #expect(try !CRMTest.blocked(server, "lea@example.com"))
            let changed = try await client.send(.patch, "/v1/connectors/\(id)", key: server.admin, json: #"{"mode": "sales_field"}"#)
            #expect(changed.status == .ok)
            #expect(try await CRMTest.status(client, server, id)["first_sync_done"] as? Bool == false)
            let run = try await CRMTest.sync(client, server, id)
            #expect(run["opt_outs"] as? Int == 1, "the sales field is read from the start, not from the old delta link")
            #expect(try CRMTest.blocked(server, "lea@example.com"))
        }
    }

    @Test func secretsStayOutOfAnswersAndOnlyAdminsManageConnectors() async throws {
        let server = try await CRMTest.server()
        let crm = try await DynamicsEmulator.start()
        defer { Task { await crm.stop() } }
        try await server.test { client in
            let created = try await client.send(.post, "/v1/connectors", key: server.member, json: #"{"name": "x"}"#)
            #expect(created.status == .forbidden)
            let bad = try await client.send(.post, "/v1/connectors", key: server.admin, json: """
                {"name": "bad", "provider": "dynamics", "instance_url": "\(await crm.url)", "auth": {"tenant": "t", "client_id": "c", "client_secret": "s"},
                 "mode": "shared_field", "poll_seconds": 5}
                """)
            #expect(bad.status == .badRequest)
            #expect((bad.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "poll_seconds" || "\(bad.json)".contains("poll_seconds"))
            let connector = try await CRMTest.dynamics(client, server, crm, extra: "")
            let id = try #require(connector["id"] as? Int)
            let wrong = try await client.send(.patch, "/v1/connectors/\(id)", key: server.admin, json: #"{"auth": {"client_secret": "not-it"}}"#)
            #expect(wrong.status == .ok)
            try await CRMTest.sync(client, server, id)
            let status = try await CRMTest.status(client, server, id)
            #expect(status["state"] as? String == "auth_failed")
            #expect((status["last_error"] as? [String: Any])?["code"] as? String == "invalid_client")
            for path in ["/v1/connectors/\(id)", "/v1/connectors/\(id)/status", "/v1/connectors/\(id)/log", "/v1/connectors"] {
                let answer = try await client.send(.get, path, key: server.admin)
                #expect(!"\(answer.json)".contains("not-it") && !"\(answer.json)".contains(DynamicsEmulator.clientSecret))
            }
            #expect(try await client.send(.get, "/v1/connectors/\(id)", key: server.otherAdmin).status == .notFound)
            let test = try await client.send(.post, "/v1/connectors/\(id)/test", key: server.admin)
            #expect(test.json["ok"] as? Bool == false)
            #expect((test.json["problems"] as? [String])?.first?.hasPrefix("invalid_client") == true)
            _ = try await client.send(.patch, "/v1/connectors/\(id)", key: server.admin, json: #"{"auth": {"client_secret": "\#(DynamicsEmulator.clientSecret)"}}"#)
            let good = try await client.send(.post, "/v1/connectors/\(id)/test", key: server.admin)
            #expect(good.json["ok"] as? Bool == true, "\(good.json)")
            #expect(good.json["integration_user"] as? String == DynamicsEmulator.integrationUser)
            await crm.setChangeTracking(false)
            _ = try await client.send(.patch, "/v1/connectors/\(id)", key: server.admin, json: #"{"sms_field": "nosuchfield"}"#)
            let broken = try await client.send(.post, "/v1/connectors/\(id)/test", key: server.admin)
            let problems = broken.json["problems"] as? [String] ?? []
            #expect(problems.contains { $0.contains("change tracking is off") } && problems.contains { $0.contains("no column nosuchfield") }, "\(problems)")
        }
    }
}
