import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
@testable import HushStore
import HushTestSupport
import Testing
@testable import HushServer

@Suite(.everyBackend) struct SendTests {
    /// Sends raw JSON and returns the status and the parsed answer.
    static func post(_ client: some TestClientProtocol, _ uri: String, key: String, body: String) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(uri: uri, method: .post, headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
                                 body: ByteBuffer(string: body)) { response in
            (response.status, (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
        }
    }

    @Test func aSendAnswersEveryRecipientAndKeepsItsReport() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "a@example.com", "channel": "email"}"#)
            _ = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "promo"}"#)
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "b@example.com", "channel": "email", "list": "promo"}"#)
            let body = #"""
                {"name": "Spring", "campaign": "c-1", "channel": "email", "scope": "", "lists": ["promo"], "recipients": [
                  "A@Example.com", {"address": "b@example.com", "ref": "r2", "contact": null}, "not-an-address",
                  {"address": "c@example.com", "ref": "r4"}, "+14155550100"]}
                """#
            let (status, sent) = try await Self.post(client, "/v1/sends", key: server.member, body: body)
            #expect(status == .created)
            let id = try #require(sent["id"] as? Int)
            #expect(sent["counts"] as? [String: Int] == ["total": 5, "allowed": 1, "blocked": 2, "invalid": 2])
            let blocked = try #require(sent["blocked"] as? [[String: Any]])
            #expect(blocked.map { $0["position"] as? Int } == [0, 1])
            #expect(blocked.map { $0["reason"] as? String } == ["optout_email", "optout_email"])
            #expect(blocked[1]["ref"] as? String == "r2")
            #expect(((blocked[1]["blocked_by"] as? [[String: Any]])?.first?["list"] as? Int) != nil)
            #expect((sent["allowed"] as? [[String: Any]])?.map { $0["address"] as? String } == ["c@example.com"])
            #expect((sent["invalid"] as? [[String: Any]])?.map { $0["input"] as? String } == ["not-an-address", "+14155550100"])

            let stored = try await client.send(.get, "/v1/sends/\(id)", key: server.member).json
            #expect(stored["name"] as? String == "Spring" && stored["campaign"] as? String == "c-1")
            #expect(stored["counts"] as? [String: Int] == ["total": 5, "allowed": 1, "blocked": 2, "invalid": 2])
            let report = try await client.send(.get, "/v1/sends/\(id)/report?status=blocked", key: server.member).json
            #expect((report["entries"] as? [[String: Any]])?.map { $0["status"] as? String } == ["blocked", "blocked"])
            let all = try await client.send(.get, "/v1/sends/\(id)/report?limit=3", key: server.member).json
            #expect((all["entries"] as? [[String: Any]])?.map { $0["position"] as? Int } == [0, 1, 2])
            let next = try #require(all["next_cursor"] as? String)
            let rest = try await client.send(.get, "/v1/sends/\(id)/report?limit=3&cursor=\(next)", key: server.member).json
            #expect((rest["entries"] as? [[String: Any]])?.map { $0["status"] as? String } == ["allowed", "invalid"])
            #expect(rest["next_cursor"] is NSNull)

            let csv = try await client.execute(uri: "/v1/sends/\(id)/report.csv?status=blocked", method: .get, headers: [.authorization: "Bearer \(server.member)"]) {
                String(buffer: $0.body)
            }
            let rows = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            #expect(rows.first == SendReportCSV.columns)
            #expect(rows.dropFirst().map { $0[5] } == ["Optout Email", "Optout Email"])
            #expect(rows.dropFirst().map { $0[1] } == ["a@example.com", "b@example.com"])

            // Without the list, b is allowed: a send honours default and the lists it names.
            let (_, plain) = try await Self.post(client, "/v1/sends", key: server.member, body: #"{"channel": "email", "recipients": ["b@example.com"]}"#)
            #expect(plain["counts"] as? [String: Int] == ["total": 1, "allowed": 1, "blocked": 0, "invalid": 0])
            #expect(try await client.send(.get, "/v1/sends/\(id)", key: server.otherAdmin).status == .notFound)
            let listed = try await client.send(.get, "/v1/sends", key: server.member).json["sends"] as? [[String: Any]]
            #expect(listed?.count == 2)
        }
    }

    /// Erasing an address nobody opted out of (so no row of it) still takes it out of the send
    /// reports that named it, and a number out of the messages it sent.
    @Test func erasingAnAddressWithoutARowScrubsReportsAndMessages() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let (status, sent) = try await Self.post(client, "/v1/sends", key: server.member, body: #"{"channel": "email", "recipients": ["bob@example.com"]}"#)
            #expect(status == .created)
            let id = try #require(sent["id"] as? Int)
            // A number on an email send is refused as one the channel cannot reach; the report keeps it.
            let (_, misdirected) = try await Self.post(client, "/v1/sends", key: server.member, body: #"{"channel": "email", "recipients": ["+1 415 555 0177"]}"#)
            let misdirectedID = try #require(misdirected["id"] as? Int)
            #expect((misdirected["counts"] as? [String: Int])?["invalid"] == 1)
            try await client.send(.post, "/v1/inbound", key: server.inbound, json: #"{"channel": "sms", "from": "+14155550177", "to": "+18005551212", "body": "who is this"}"#)
            for address in ["bob@example.com", "+14155550177"] {
                #expect(try await client.send(.post, "/v1/erasures", key: server.admin, json: #"{"address": "\#(address)"}"#).status == .ok)
            }
            for send in [id, misdirectedID] {
                let report = try await client.execute(uri: "/v1/sends/\(send)/report.csv", method: .get, headers: [.authorization: "Bearer \(server.member)"]) {
                    String(buffer: $0.body)
                }
                #expect(!report.contains("bob@example.com") && !report.contains("415") && report.split(separator: "\n").count == 2, "\(report)")
            }
            let messages = try await rawSQL("SELECT sender, body FROM inbound_messages", on: server.store)
            #expect(!messages.isEmpty && !messages.contains { $0.contains("+14155550177") || $0.contains("who is this") }, "\(messages)")
        }
    }

    @Test func recipientsBeforeTheSettingsAndContactsAreHonoured() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"contact": "crm-7", "channel": "sms"}"#)
            // Sorted keys put recipients before scope: the answer is the same.
            let body = #"{"channel": "sms", "recipients": [{"address": "+14155550100", "contact": "crm-7", "ref": "x"}, "+14155550111"], "scope": "acme"}"#
            let (status, sent) = try await Self.post(client, "/v1/sends", key: server.member, body: body)
            #expect(status == .created)
            #expect(sent["scope"] as? String == "acme")
            let blocked = try #require((sent["blocked"] as? [[String: Any]])?.first)
            #expect(blocked["reason"] as? String == "optout_number")
            #expect(((blocked["blocked_by"] as? [[String: Any]])?.first?["contact"] as? String) == "crm-7")
            #expect((sent["allowed"] as? [[String: Any]])?.count == 1)
        }
    }

    @Test func badBodiesAreRefusedByFieldAndRecordNothing() async throws {
        let server = try await TestServer()
        try await server.test { client in
            func refused(_ body: String) async throws -> String? {
                let (status, problem) = try await Self.post(client, "/v1/sends", key: server.member, body: body)
                #expect(status == .badRequest, "\(body)")
                return (problem["errors"] as? [[String: Any]])?.first?["field"] as? String
            }
            #expect(try await refused(#"{"channel": "email", "recipients": ["a@example.com", {"address": "b@example.com", "colour": "red"}]}"#) == "recipients[1].colour")
            #expect(try await refused(#"{"channel": "email", "recipients": ["a@example.com", 42]}"#) == "recipients[1]")
            #expect(try await refused(#"{"channel": "email", "recipients": [{"ref": "x"}]}"#) == "recipients[0].address")
            #expect(try await refused(#"{"channel": "email", "recipient": []}"#) == "recipient")
            #expect(try await refused(#"{"channel": "fax", "recipients": []}"#) == "channel")
            #expect(try await refused(#"{"recipients": ["a@example.com"]}"#) == "channel")
            #expect(try await refused(#"{"channel": "email", "name": "No one"}"#) == "recipients")
            #expect(try await refused(#"{"channel": "email", "recipients": ["a@example.com""#) == "body")
            #expect(try await refused(#"{"channel": "email", "recipients": [{"address": "a@example.com", "ref": "\#(String(repeating: "r", count: 300))"}]}"#) == "recipients[0].ref")
            #expect(try await Self.post(client, "/v1/sends", key: server.member, body: #"{"channel": "email", "lists": ["nope"], "recipients": []}"#).0 == .notFound)
            let listed = try await client.send(.get, "/v1/sends", key: server.member).json["sends"] as? [Any]
            #expect(listed?.isEmpty == true, "nothing recorded")
        }
    }

    @Test func aSendRefusedAfterItsFirstBatchesLeavesNothing() async throws {
        let server = try await TestServer()
        try await server.test { client in
            var recipients = (0..<25_000).map { #""p\#($0)@example.com""# }
            recipients[24_000] = #"{"address": "late@example.com", "shoe_size": 9}"#
            let body = #"{"channel": "email", "scope": "", "lists": [], "recipients": ["# + recipients.joined(separator: ",") + "]}"
            let (status, problem) = try await Self.post(client, "/v1/sends", key: server.member, body: body)
            #expect(status == .badRequest)
            #expect((problem["errors"] as? [[String: Any]])?.first?["field"] as? String == "recipients[24000].shoe_size")
            let left = try await rawSQL("SELECT (SELECT COUNT(*) FROM sends), (SELECT COUNT(*) FROM send_reports)", on: server.store)
            #expect(left == [["0", "0"]], "the batches stored before the error are removed")
        }
    }

    @Test func oldAndAbandonedSendsArePruned() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let (_, sent) = try await Self.post(client, "/v1/sends", key: server.member, body: #"{"channel": "email", "recipients": ["a@example.com"]}"#)
            let id = try #require(sent["id"] as? Int)
            // A send whose request died with its server two hours ago, half stored.
            let abandoned = try await server.store.beginSend(
                Send(name: nil, campaign: nil, channel: .email, scope: try Scope(parsing: ""), lists: [], actor: "test",
                     createdAt: server.clock.now.addingTimeInterval(-7_200)), in: server.acme.id)
            try await server.store.appendReport(
                [SendReportChunk(status: .allowed, index: 0, firstPosition: 0, lastPosition: 0, count: 1, entries: Array(#"{"position":0}"#.utf8))],
                to: abandoned.id)
            let pruner = HistoryPruner(store: server.store, webhookRetention: .seconds(86_400), sendRetention: .seconds(90 * 86_400), logger: .init(label: "test"),
                now: server.clock.read)
            await pruner.prune(now: server.clock.now)
            let left = try await rawSQL("SELECT DISTINCT send_id FROM send_reports", on: server.store)
            #expect(left == [[String(id)]], "the abandoned send's report is gone, the complete one's kept")
            #expect(try await client.send(.get, "/v1/sends/\(id)", key: server.member).status == .ok)

            await pruner.prune(now: Date().addingTimeInterval(91 * 86_400))
            #expect(try await client.send(.get, "/v1/sends/\(id)", key: server.member).status == .notFound, "past the retention")
            #expect(try await rawSQL("SELECT COUNT(*) FROM send_reports", on: server.store) == [["0"]])
        }
    }

    @Test func aPreviewAnswersWithoutRecording() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "a@example.com", "channel": "email"}"#)
            let (status, preview) = try await Self.post(client, "/v1/audiences/preview", key: server.member,
                                                        body: #"{"channel": "email", "scope": "", "lists": [], "recipients": ["a@example.com", "b@example.com"]}"#)
            #expect(status == .ok)
            #expect(preview["id"] is NSNull)
            #expect(preview["counts"] as? [String: Int] == ["total": 2, "allowed": 1, "blocked": 1, "invalid": 0])
            #expect((try await client.send(.get, "/v1/sends", key: server.member).json["sends"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func aSendWithBlockedRecipientsIsAnnounced() async throws {
        let server = try await TestServer(configuration: ServerConfiguration(webhooks: WebhookSettings(allowPrivateTargets: true), sendsWebhooks: false))
        try await server.test { client in
            let hook = try await client.send(.post, "/v1/webhooks", key: server.admin, json: #"{"url": "http://127.0.0.1:9/hook", "events": ["send.blocked"]}"#)
            let hookID = try #require(hook.json["id"] as? Int)
            try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "a@example.com", "channel": "email"}"#)
            _ = try await Self.post(client, "/v1/sends", key: server.member, body: #"{"channel": "email", "recipients": ["b@example.com"]}"#)
            _ = try await Self.post(client, "/v1/sends", key: server.member, body: #"{"channel": "email", "recipients": ["a@example.com"]}"#)
            let deliveries = try await client.send(.get, "/v1/webhooks/\(hookID)/deliveries", key: server.admin).json["deliveries"] as? [[String: Any]]
            #expect(deliveries?.map { $0["type"] as? String } == ["send.blocked"], "only the send that held someone back")
        }
    }

    @Test func theStreamReadsAnyChunkingAlike() throws {
        let body = Array(#"{"channel":"email","recipients":["a@example.com" , {"address":"b\"q@example.com","ref":"r\\2\u00e9"},"c@example.com"],"scope":"x"}"#.utf8)
        for size in [1, 2, 3, 7, body.count] {
            var stream = RecipientStream(fields: SendRoutes.headerFields)
            var recipients: [RecipientStream.Recipient] = []
            var offset = 0
            while offset < body.count {
                recipients += try stream.push(body[offset..<min(offset + size, body.count)])
                offset += size
            }
            try stream.finish()
            #expect(recipients.map(\.address) == ["a@example.com", "b\"q@example.com", "c@example.com"], "chunks of \(size)")
            #expect(recipients[1].ref == "r\\2é")
            #expect(stream.fields["scope"].map { String(decoding: $0, as: UTF8.self) } == #""x""#)
        }
    }

    /// A body of over a megabyte arrives in many reads (64 KiB at most each): the name and
    /// campaign written after the recipients are read too, though checking began before them.
    @Test func aNameAfterTheRecipientsIsKept() async throws {
        let server = try await TestServer()
        let recipients = (0..<30_000).map { #""p\#($0)@example.com""# }
        let body = #"{"channel": "email", "scope": "", "lists": [], "recipients": ["# + recipients.joined(separator: ",")
            + #"], "name": "Spring sale", "campaign": "spring-2026"}"#
        try await server.live { port in
            let answer = try await PatientHTTP.send(.POST, port: port, "/v1/sends", key: server.member, body: body)
            #expect(answer.status == 201)
            let sent = (try? JSONSerialization.jsonObject(with: Data(buffer: answer.body))) as? [String: Any] ?? [:]
            #expect(sent["name"] as? String == "Spring sale")
            let id = try #require(sent["id"] as? Int)
            let stored = try await PatientHTTP.send(.GET, port: port, "/v1/sends/\(id)", key: server.member)
            let json = (try? JSONSerialization.jsonObject(with: Data(buffer: stored.body))) as? [String: Any] ?? [:]
            #expect(json["name"] as? String == "Spring sale")
            #expect(json["campaign"] as? String == "spring-2026")
            #expect((json["counts"] as? [String: Int])?["total"] == 30_000)
        }
    }

    /// 100 000 recipients over a real socket: the report's counts match a direct check of each
    /// recipient, and the CSV report reads back.
    @Test func aHundredThousandRecipientsOverLoopback() async throws {
        let server = try await TestServer()
        let region = server.acme.settings.defaultRegion
        let optOuts = try (0..<50_000).map { index in
            OptOut(subject: .address(try Address(parsing: "p\(index * 2)@example.com")), channel: .only(.email), scope: try Scope(parsing: ""),
                   list: nil, source: .import, actor: "test", evidence: Evidence())
        }
        _ = try await server.store.record(optOuts, in: server.acme.id)
        let recipients = (0..<100_000).map { #"{"address": "p\#($0)@example.com", "ref": "r\#($0)"}"# }
        let body = #"{"channel": "email", "scope": "", "lists": [], "recipients": ["# + recipients.joined(separator: ",") + "]}"
        try await server.live { port in
            let answer = try await PatientHTTP.send(.POST, port: port, "/v1/sends", key: server.member, body: body)
            let status = HTTPResponse.Status(code: answer.status)
            let sent = (try? JSONSerialization.jsonObject(with: Data(buffer: answer.body))) as? [String: Any] ?? [:]
            #expect(status == .created)
            let query = CheckQuery(channel: .email, scope: try Scope(parsing: ""), lists: [])
            var expectedBlocked = 0
            for index in 0..<100_000 where !server.store.decision(for: try Address(parsing: "p\(index)@example.com", region: region), in: server.acme.id, query: query).allowed {
                expectedBlocked += 1
            }
            #expect(expectedBlocked == 50_000)
            #expect(sent["counts"] as? [String: Int] == ["total": 100_000, "allowed": 100_000 - expectedBlocked, "blocked": expectedBlocked, "invalid": 0])
            let id = try #require(sent["id"] as? Int)
            let csv = String(buffer: try await PatientHTTP.send(.GET, port: port, "/v1/sends/\(id)/report.csv", key: server.member).body)
            let rows = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
            #expect(rows.count == 100_000)
            #expect(rows.map { Int($0[0]) } == (0..<100_000).map { $0 }, "in send order")
            #expect(rows.filter { $0[4] == "blocked" }.count == expectedBlocked)
            #expect(rows.allSatisfy { row in (row[4] == "blocked") == (row[5] == "Optout Email") && row[3] == "r\(row[0])" })
        }
    }
}
