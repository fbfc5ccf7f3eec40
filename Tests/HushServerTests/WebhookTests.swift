import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushStore
import HushTestSupport
import Logging
import Testing
@testable import HushServer

/// Webhooks end to end: endpoints made through the API, changes written through the API, and
/// the sender posting to a real HTTP receiver on loopback.
@Suite(.everyBackend) struct WebhookTests {
    /// Retries wait `delays` by the server's clock: a test moves the clock to make them due.
    static func settings(delays: [Double] = [60, 60, 60], timeout: Duration = .seconds(10)) -> WebhookSettings {
        WebhookSettings(
            retryPolicy: WebhookRetryPolicy(delays: delays, jitter: 0), timeout: timeout, allowPrivateTargets: true,
            pollInterval: .milliseconds(20))
    }

    static func server(_ settings: WebhookSettings = settings()) async throws -> TestServer {
        try await TestServer(configuration: ServerConfiguration(webhooks: settings, sendsWebhooks: false))
    }

    /// Runs the sender beside `body`.
    static func sending(_ server: TestServer, _ body: () async throws -> Void) async throws {
        let sender = WebhookSender(
            store: server.store, settings: server.configuration.webhooks, logger: Logger(label: "test"), metrics: ServerMetrics(), now: server.clock.read)
        let task = Task { try await sender.run() }
        defer { task.cancel() }
        try await body()
        task.cancel()
        _ = await task.result
    }

    /// Creates an endpoint; returns its id and secret.
    static func endpoint(
        _ client: some TestClientProtocol, _ server: TestServer, url: String, events: String = #"["opt_out.created", "opt_in.created"]"#
    ) async throws -> (id: Int, secret: WebhookSecret) {
        let created = try await client.send(.post, "/v1/webhooks", key: server.admin, json: #"{"url": "\#(url)", "events": \#(events)}"#)
        #expect(created.status == .created)
        return (try #require(created.json["id"] as? Int), try WebhookSecret(parsing: try #require(created.json["secret"] as? String)))
    }

    static func optOut(_ client: some TestClientProtocol, _ server: TestServer, _ address: String, channel: String = "email", list: String? = nil) async throws {
        let listField = list.map { #", "list": "\#($0)""# } ?? ""
        let written = try await client.send(.post, "/v1/opt-outs", key: server.admin, json: #"{"address": "\#(address)", "channel": "\#(channel)"\#(listField)}"#)
        #expect(written.status == .created)
    }

    /// Checks a request as a receiver does with the Standard Webhooks algorithm, its clock the server's.
    static func verified(_ request: WebhookReceiver.Received, _ secret: WebhookSecret, at now: Date = Date()) -> Bool {
        guard let timestamp = Int64(request.headers["webhook-timestamp"] ?? ""), abs(Double(timestamp) - now.timeIntervalSince1970) < 300 else {
            return false
        }
        return WebhookSignature.verify(
            header: request.headers["webhook-signature"] ?? "", id: request.webhookID, timestamp: timestamp, body: request.body, secret: secret)
    }

    @Test func deliversSignedEventsWithEverythingAReceiverNeeds() async throws {
        let server = try await Self.server()
        let receiver = try await WebhookReceiver.start()
        try await server.test { client in
            let (id, secret) = try await Self.endpoint(client, server, url: receiver.url)
            let listed = try await client.send(.get, "/v1/webhooks", key: server.member)
            let webhooks = try #require(listed.json["webhooks"] as? [[String: Any]])
            #expect(webhooks.count == 1 && webhooks[0]["secret"] == nil, "the secret is shown once")

            try await Self.sending(server) {
                try await Self.optOut(client, server, "Ann@Example.com")
                let request = try #require(await receiver.waitFor(1).first)
                #expect(Self.verified(request, secret))
                #expect(!Self.verified(request, WebhookSecret.generate()))
                #expect(request.headers["content-type"] == "application/json")
                #expect(request.webhookID == "msg_l1_\(id)")
                let event = request.json
                #expect(event["type"] as? String == "opt_out.created")
                #expect(event["sequence"] as? Int == 1)
                #expect(event["id"] as? Int == 1)
                #expect(event["occurred_at"] is String)
                let data = try #require(event["data"] as? [String: Any])
                #expect(data["address"] as? String == "ann@example.com")
                #expect(data["channel"] as? String == "email")
                #expect(data["list_name"] as? String == "default")
                #expect(data["source"] as? String == "api")
                #expect(data["scope"] as? String == "")
                #expect(data["contact"] is NSNull)

                var deliveries: [[String: Any]] = []
                _ = try await eventually {
                    deliveries = try await Self.deliveries(client, server, id, status: "succeeded")
                    return !deliveries.isEmpty
                }
                #expect(deliveries.count == 1)
                #expect(deliveries.first?["response_status"] as? Int == 200)
                #expect(deliveries.first?["response_body"] as? String == "ok")
                #expect(deliveries.first?["attempts"] as? Int == 1)
                #expect(deliveries.first?["next_attempt_at"] is NSNull)
            }
        }
        await receiver.stop()
    }

    /// The deliveries of an endpoint, as the API lists them.
    static func deliveries(_ client: some TestClientProtocol, _ server: TestServer, _ endpoint: Int, status: String? = nil) async throws -> [[String: Any]] {
        let query = status.map { "?status=\($0)" } ?? ""
        return try await client.send(.get, "/v1/webhooks/\(endpoint)/deliveries\(query)", key: server.admin).json["deliveries"] as? [[String: Any]] ?? []
    }

    /// Waits until the endpoint's oldest delivery has `attempts` attempts recorded (they are written
    /// after the request the receiver saw); returns it.
    static func attempted(_ client: some TestClientProtocol, _ server: TestServer, _ endpoint: Int, _ attempts: Int) async throws -> [String: Any] {
        var oldest: [String: Any] = [:]
        #expect(try await eventually {
            oldest = try await deliveries(client, server, endpoint).first ?? [:]
            return oldest["attempts"] as? Int == attempts
        }, "attempt \(attempts) recorded")
        return oldest
    }

    /// Seconds between a delivery's last attempt and its next one.
    static func wait(of delivery: [String: Any]) throws -> TimeInterval {
        let last = try #require((delivery["last_attempt_at"] as? String).flatMap(Timestamp.parse))
        let next = try #require((delivery["next_attempt_at"] as? String).flatMap(Timestamp.parse))
        return next.timeIntervalSince(last)
    }

    @Test func retriesAfterAServerErrorAndATimeoutKeepingLedgerOrder() async throws {
        let server = try await Self.server(Self.settings(delays: [60, 60, 60], timeout: .seconds(3)))
        let receiver = try await WebhookReceiver.start { index, _ in
            switch index {
            case 0: .init(status: 500, body: "broken")
            case 1: .init(delay: .seconds(10))  // answers long after the sender gave up (3 s)
            default: .init()
            }
        }
        try await server.test { client in
            let (id, _) = try await Self.endpoint(client, server, url: receiver.url)
            try await Self.optOut(client, server, "one@example.com")
            try await Self.optOut(client, server, "two@example.com")
            try await Self.sending(server) {
                await receiver.waitFor(1)
                // Nothing more is sent until the retry is due by the server's clock.
                #expect(abs(try Self.wait(of: try await Self.attempted(client, server, id, 1)) - 60) < 0.01)
                server.clock.advance(by: 60)
                await receiver.waitFor(2)
                _ = try await Self.attempted(client, server, id, 2)
                server.clock.advance(by: 60)
                let requests = await receiver.waitFor(4)
                #expect(requests.count == 4)
                // The first event three times (500, timeout, 200); the second only after it.
                #expect(requests.map(\.webhookID) == ["msg_l1_\(id)", "msg_l1_\(id)", "msg_l1_\(id)", "msg_l2_\(id)"])
                var statuses: [String?] = []
                _ = try await eventually {
                    statuses = try await Self.deliveries(client, server, id).map { $0["status"] as? String }
                    return statuses == ["succeeded", "succeeded"]
                }
                #expect(statuses == ["succeeded", "succeeded"])
                #expect(try await Self.deliveries(client, server, id).first?["attempts"] as? Int == 3)
            }
        }
        await receiver.stop()
    }

    @Test func retryAfterIsHonouredOverTheSchedule() async throws {
        // The schedule alone would wait an hour; the receiver asks for one second.
        let server = try await Self.server(Self.settings(delays: [3_600]))
        let receiver = try await WebhookReceiver.start { index, _ in
            index == 0 ? .init(status: 503, headers: ["Retry-After": "1"]) : .init()
        }
        try await server.test { client in
            let (id, _) = try await Self.endpoint(client, server, url: receiver.url)
            try await Self.sending(server) {
                try await Self.optOut(client, server, "later@example.com")
                await receiver.waitFor(1)
                #expect(abs(try Self.wait(of: try await Self.attempted(client, server, id, 1)) - 1) < 0.01)
                server.clock.advance(by: 1)
                let requests = await receiver.waitFor(2)
                #expect(requests.count == 2)
            }
        }
        await receiver.stop()
    }

    @Test func goneDisablesTheEndpointAndRedirectsAreNotFollowed() async throws {
        let server = try await Self.server(Self.settings(delays: [3_600]))
        let gone = try await WebhookReceiver.start { _, _ in .init(status: 410) }
        let moved = try await WebhookReceiver.start { _, request in
            request.path == "/hook" ? .init(status: 302, headers: ["Location": "/elsewhere"]) : .init()
        }
        try await server.test { client in
            let (goneID, _) = try await Self.endpoint(client, server, url: gone.url)
            let (movedID, _) = try await Self.endpoint(client, server, url: moved.url)
            try await Self.sending(server) {
                try await Self.optOut(client, server, "x@example.com")
                await gone.waitFor(1)
                await moved.waitFor(1)
                var endpoint: [String: Any] = [:]
                _ = try await eventually {
                    endpoint = try await client.send(.get, "/v1/webhooks/\(goneID)", key: server.admin).json
                    return endpoint["enabled"] as? Bool == false
                }
                #expect(endpoint["enabled"] as? Bool == false)
                #expect((endpoint["disabled_reason"] as? String)?.contains("410") == true)
                _ = try await Self.attempted(client, server, movedID, 1)
                try await Self.optOut(client, server, "y@example.com")
                // Deliveries are made in the write's own transaction: none for a disabled endpoint.
                #expect(try await Self.deliveries(client, server, goneID).count == 1, "a disabled endpoint gets nothing")
                #expect(await gone.received.count == 1, "a disabled endpoint gets nothing")

                #expect(await moved.received.map(\.path) == ["/hook"], "the redirect is not followed")
                let pending = try await client.send(.get, "/v1/webhooks/\(movedID)/deliveries?status=pending", key: server.admin).json["deliveries"] as? [[String: Any]] ?? []
                #expect(pending.first?["response_status"] as? Int == 302)

                // Enabled again, it gets the delivery that waited; what happened while it was
                // disabled comes by replay.
                await gone.respond { _, _ in .init() }
                #expect(try await client.send(.patch, "/v1/webhooks/\(goneID)", key: server.admin, json: #"{"enabled": true}"#).json["disabled_reason"] is NSNull)
                #expect(await gone.waitFor(2).map(\.webhookID) == ["msg_l1_\(goneID)", "msg_l1_\(goneID)"])
                #expect(try await client.send(.post, "/v1/webhooks/\(goneID)/replay", key: server.admin, json: #"{"from_sequence": 2}"#).json["queued"] as? Int == 1)
                #expect(await gone.waitFor(3).last?.json["sequence"] as? Int == 2)
            }
        }
        await gone.stop()
        await moved.stop()
    }

    @Test func aListWebhookGetsTheSeedPayloadExactly() async throws {
        let server = try await Self.server()
        let receiver = try await WebhookReceiver.start()
        try await server.test { client in
            let list = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Promos", "webhook_url": "\#(receiver.url)"}"#)
            #expect(list.status == .created)
            let secret = try WebhookSecret(parsing: try #require(list.json["webhook_secret"] as? String))
            let endpoint = try #require(list.json["webhook"] as? Int)
            let again = try await client.send(.get, "/v1/lists/\(try #require(list.json["id"] as? Int))", key: server.member).json
            #expect(again["webhook_secret"] == nil && again["webhook"] as? Int == endpoint)
            try await Self.sending(server) {
                try await Self.optOut(client, server, "+14155550100", channel: "sms", list: "Promos")
                try await Self.optOut(client, server, "Pat@Example.com", channel: "email", list: "Promos")
                try await Self.optOut(client, server, "nolist@example.com")
                let requests = await receiver.waitUntil { Set($0.map(\.webhookID)).count >= 2 }
                #expect(await receiver.distinct.map(\.text) == [
                    #"{"opt_list_name":"Promos","mobile":"+14155550100","email":null,"channel_id":"sms"}"#,
                    #"{"opt_list_name":"Promos","mobile":null,"email":"pat@example.com","channel_id":"email"}"#,
                ])
                #expect(requests.allSatisfy { Self.verified($0, secret) })
                // Deliveries are made in the write's own transaction: none for the other list's opt-out.
                #expect(try await Self.deliveries(client, server, endpoint).count == 2, "opt-outs on other lists are not sent")
                #expect(await receiver.distinct.count == 2, "opt-outs on other lists are not sent")
            }
            // Members may not point a list's opt-outs somewhere.
            let member = try await client.send(.post, "/v1/lists", key: server.member, json: #"{"name": "Other", "webhook_url": "\#(receiver.url)"}"#)
            #expect(member.status == .forbidden)
        }
        await receiver.stop()
    }

    @Test func rotationSignsWithBothSecretsUntilTheOverlapEnds() async throws {
        let server = try await Self.server()
        let receiver = try await WebhookReceiver.start()
        try await server.test { client in
            let (id, old) = try await Self.endpoint(client, server, url: receiver.url)
            let rotated = try await client.send(.post, "/v1/webhooks/\(id)/rotate-secret", key: server.admin)
            #expect(rotated.status == .ok)
            #expect(rotated.json["rotating"] as? Bool == true)
            let new = try WebhookSecret(parsing: try #require(rotated.json["secret"] as? String))
            #expect(new != old)
            #expect(try await client.send(.post, "/v1/webhooks/\(id)/rotate-secret", key: server.member).status == .forbidden)
            try await Self.sending(server) {
                try await Self.optOut(client, server, "r1@example.com")
                let first = try #require(await receiver.waitFor(1).first)
                #expect(first.headers["webhook-signature"]?.split(separator: " ").count == 2)
                #expect(Self.verified(first, old) && Self.verified(first, new))

                let newest = try await client.send(.post, "/v1/webhooks/\(id)/rotate-secret", key: server.admin, json: #"{"overlap_seconds": 0}"#)
                let only = try WebhookSecret(parsing: try #require(newest.json["secret"] as? String))
                try await Self.optOut(client, server, "r2@example.com")
                let second = await receiver.waitFor(2)[1]
                #expect(second.headers["webhook-signature"]?.split(separator: " ").count == 1)
                #expect(Self.verified(second, only) && !Self.verified(second, new))
            }
        }
        await receiver.stop()
    }

    @Test func replaySendsPastEventsUnderTheirWebhookIDs() async throws {
        let server = try await Self.server()
        let receiver = try await WebhookReceiver.start()
        try await server.test { client in
            // One event before the endpoint exists, two after.
            try await Self.optOut(client, server, "before@example.com")
            let (id, _) = try await Self.endpoint(client, server, url: receiver.url)
            try await Self.optOut(client, server, "after1@example.com")
            try await Self.optOut(client, server, "after2@example.com")
            try await Self.sending(server) {
                let first = await receiver.waitFor(2)
                #expect(first.map { $0.json["sequence"] as? Int } == [2, 3])
                // Recorded as sent (after the receiver saw them): a replay skips what is still pending.
                #expect(try await eventually { try await Self.deliveries(client, server, id, status: "succeeded").count == 2 })
                let replayed = try await client.send(.post, "/v1/webhooks/\(id)/replay", key: server.admin, json: #"{"from_sequence": 1}"#)
                #expect(replayed.status == .accepted)
                #expect(replayed.json["queued"] as? Int == 3)
                let all = await receiver.waitFor(5)
                #expect(all.dropFirst(2).map { $0.json["sequence"] as? Int } == [1, 2, 3])
                #expect(all[3].webhookID == all[0].webhookID && all[4].webhookID == all[1].webhookID, "a replay keeps the webhook-id")
                #expect((all[2].json["data"] as? [String: Any])?["address"] as? String == "before@example.com")
            }
            #expect(try await client.send(.post, "/v1/webhooks/\(id)/replay", key: server.admin, json: #"{"from_sequence": 0}"#).status == .badRequest)
            #expect(try await client.send(.post, "/v1/webhooks/\(id)/replay", key: server.otherAdmin, json: #"{"from_sequence": 1}"#).status == .notFound)
        }
        await receiver.stop()
    }

    @Test func aDeliveryDiesAfterItsLastAttemptStaysListedAndCanBeRetried() async throws {
        let server = try await Self.server(Self.settings(delays: [60]))
        let receiver = try await WebhookReceiver.start { _, _ in .init(status: 500, body: String(repeating: "e", count: 5_000)) }
        try await server.test { client in
            let (id, _) = try await Self.endpoint(client, server, url: receiver.url)
            try await Self.sending(server) {
                try await Self.optOut(client, server, "dead@example.com")
                await receiver.waitFor(1)
                _ = try await Self.attempted(client, server, id, 1)
                server.clock.advance(by: 60)
                await receiver.waitFor(2)
                var dead: [[String: Any]] = []
                _ = try await eventually {
                    dead = try await Self.deliveries(client, server, id, status: "dead")
                    return !dead.isEmpty
                }
                let delivery = try #require(dead.first)
                #expect(delivery["attempts"] as? Int == 2)
                #expect(delivery["response_status"] as? Int == 500)
                #expect((delivery["response_body"] as? String)?.count == WebhookDelivery.maximumKeptBody)
                #expect(await receiver.received.count == 2)

                await receiver.respond { _, _ in .init() }
                let retried = try await client.send(.post, "/v1/deliveries/\(try #require(delivery["id"] as? Int))/retry", key: server.admin)
                #expect(retried.json["status"] as? String == "pending")
                #expect(await receiver.waitFor(3).count == 3)
                #expect(try await client.send(.post, "/v1/deliveries/999/retry", key: server.admin).status == .notFound)
            }
        }
        await receiver.stop()
    }

    @Test func badEndpointsAreRefusedByField() async throws {
        let server = try await TestServer()  // private targets refused, as in production
        try await server.test { client in
            func refused(_ json: String) async throws -> String? {
                let answer = try await client.send(.post, "/v1/webhooks", key: server.admin, json: json)
                #expect(answer.status == .badRequest, "\(json)")
                return (answer.json["errors"] as? [[String: Any]])?.first?["field"] as? String
            }
            #expect(try await refused(#"{"url": "http://127.0.0.1:9/hook", "events": ["opt_out.created"]}"#) == "url")
            #expect(try await refused(#"{"url": "http://169.254.169.254/latest", "events": ["opt_out.created"]}"#) == "url")
            #expect(try await refused(#"{"url": "ftp://example.com/hook", "events": ["opt_out.created"]}"#) == "url")
            #expect(try await refused(#"{"url": "https://example.com/hook", "events": ["opt_out.deleted"]}"#) == "events[0]")
            #expect(try await refused(#"{"url": "https://example.com/hook", "events": []}"#) == "events")
            #expect(try await refused(#"{"url": "https://example.com/hook", "events": ["opt_out.created"], "secret": "x"}"#) == "secret")
            let list = try await client.send(.post, "/v1/lists", key: server.admin, json: #"{"name": "Local", "webhook_url": "http://localhost:8080/x"}"#)
            #expect(list.status == .badRequest)
            #expect(try await client.send(.post, "/v1/webhooks", key: server.member, json: #"{"url": "https://example.com/hook", "events": ["opt_out.created"]}"#).status == .forbidden)
        }
    }

    @Test func pendingOptInsAndMessagesForReviewAreAnnounced() async throws {
        let server = try await Self.server()
        let receiver = try await WebhookReceiver.start()
        try await server.test { client in
            _ = try await Self.endpoint(client, server, url: receiver.url, events: #"["inbound.needs_review", "opt_in.requested"]"#)
            try await Self.sending(server) {
                let message = #"{"channel": "sms", "from": "+14155550122", "to": "+14155550000", "body": "Stop by the store tomorrow?"}"#
                #expect(try await client.send(.post, "/v1/inbound", key: server.inbound, json: message).json["result"] as? String == "needs_review")
                try await Self.optOut(client, server, "back@example.com")
                let asked = try await client.send(.post, "/v1/opt-in-requests", key: server.admin, json: #"{"address": "back@example.com", "channel": "email"}"#)
                #expect(asked.status == .created)
                let requests = await receiver.waitFor(2)
                #expect(requests.map { $0.json["type"] as? String } == ["inbound.needs_review", "opt_in.requested"])
                #expect((requests.first?.json["data"] as? [String: Any])?["body"] as? String == "Stop by the store tomorrow?")
                #expect((requests.last?.json["data"] as? [String: Any])?["address"] as? String == "back@example.com")
                #expect(((requests.last?.json["data"] as? [String: Any])?["confirm_url"] as? String)?.contains("/c/") == true, "the link reaches the person this way")
            }
        }
        await receiver.stop()
    }
}
