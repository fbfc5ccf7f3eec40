import GRDB
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

/// The webhook outbox is written in the transaction that makes the change: all of it or none.
@Suite(.everyBackend) struct OutboxTests {
    func endpoint(_ test: TestStore, events: [WebhookEvent.Kind] = [.optOutCreated, .optInCreated], lists: [ListID]? = nil) async throws -> WebhookEndpoint {
        try await test.store.createWebhook(
            WebhookEndpoint(url: "https://example.com/hook", events: events.map(\.rawValue), lists: lists, secrets: [.generate()]),
            in: test.id)
    }

    func counts(_ test: TestStore) async throws -> (events: Int, deliveries: Int) {
        let rows = try await test.sql("SELECT (SELECT COUNT(*) FROM webhook_outbox), (SELECT COUNT(*) FROM webhook_deliveries)")
        return (Int(rows.first?[0] ?? "") ?? -1, Int(rows.first?[1] ?? "") ?? -1)
    }

    func optOuts(_ addresses: [String]) throws -> [OptOut] {
        try addresses.map {
            OptOut(subject: .address(try Address(parsing: $0)), channel: .only(.email), scope: try Scope(parsing: ""), list: nil, source: .api, actor: "test", evidence: Evidence())
        }
    }

    @Test func nothingIsQueuedWithoutAnEndpoint() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("ann@example.com")
        #expect(try await counts(test) == (0, 0))
    }

    @Test func aBatchQueuesEveryEventOrNone() async throws {
        let test = try await TestStore()
        _ = try await endpoint(test)
        _ = try await endpoint(test)
        let bad = OptOut(subject: .address(try Address(parsing: "+14155550100")), channel: .only(.email), scope: try Scope(parsing: ""), list: nil, source: .api, actor: "test", evidence: Evidence())
        await #expect(throws: HushError.self) {
            _ = try await test.store.record(try optOuts(["a@example.com", "b@example.com"]) + [bad], in: test.id)
        }
        #expect(try await counts(test) == (0, 0), "a refused batch announces nothing")

        _ = try await test.store.record(try optOuts(["a@example.com", "b@example.com", "c@example.com"]), in: test.id)
        #expect(try await counts(test) == (3, 6), "one event each, one delivery per endpoint")
        _ = try await test.store.record(try optOuts(["a@example.com"]), in: test.id)
        #expect(try await counts(test) == (3, 6), "a repeated opt-out changes nothing and announces nothing")
    }

    @Test func concurrentWritersEachQueueTheirEvents() async throws {
        let test = try await TestStore()
        _ = try await endpoint(test)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<50 {
                group.addTask { _ = try await test.optOut("w\(index)@example.com") }
            }
            try await group.waitForAll()
        }
        #expect(try await counts(test) == (50, 50))
        let claimed = try await test.store.claimDeliveries(endpoints: 10, perEndpoint: 100, excluding: [], leaseUntil: test.clock.now.addingTimeInterval(60))
        #expect(claimed.count == 1)
        #expect(claimed[0].map { $0.event.sequence ?? 0 } == (1...50).map(Int64.init), "in ledger order")
        let again = try await test.store.claimDeliveries(endpoints: 10, perEndpoint: 100, excluding: [], leaseUntil: test.clock.now.addingTimeInterval(60))
        #expect(again.isEmpty, "leased deliveries are not handed out twice")
    }

    @Test func endpointsFilterByEventAndList() async throws {
        let test = try await TestStore()
        let promo = try await test.store.createList(in: test.id, ListDefinition(name: "promo"))
        _ = try await endpoint(test, events: [.optInCreated])
        _ = try await endpoint(test, lists: [promo.id])
        _ = try await test.optOut("ann@example.com")
        #expect(try await counts(test) == (0, 0))
        _ = try await test.optOut("ann@example.com", list: promo.id)
        #expect(try await counts(test) == (1, 1))
    }

    @Test func aDisabledEndpointGetsNothingNew() async throws {
        let test = try await TestStore()
        var endpoint = try await endpoint(test)
        endpoint.enabled = false
        _ = try await test.store.updateWebhook(endpoint, in: test.id)
        _ = try await test.optOut("ann@example.com")
        #expect(try await counts(test) == (0, 0))
    }

    @Test func finishedDeliveriesArePrunedAndAReplayKeepsTheirIDs() async throws {
        let test = try await TestStore()
        let endpoint = try await endpoint(test)
        _ = try await test.optOut("ann@example.com")
        _ = try await test.optOut("bob@example.com")
        let claimed = try await test.store.claimDeliveries(endpoints: 1, perEndpoint: 1, excluding: [], leaseUntil: test.clock.now.addingTimeInterval(60))
        let first = try #require(claimed.first?.first)
        try await test.store.recordAttempts([DeliveryAttempt(delivery: first.id, endpoint: endpoint.id, outcome: .succeeded, at: test.clock.now)])

        let early = try await test.store.pruneWebhooks(finishedBefore: test.clock.now.addingTimeInterval(-1))
        #expect(early.deliveries == 0 && early.events == 0, "kept within the retention")
        let pruned = try await test.store.pruneWebhooks(finishedBefore: test.clock.now.addingTimeInterval(1))
        #expect(pruned.deliveries == 1 && pruned.events == 1)
        #expect(try await counts(test) == (1, 1), "the pending delivery and its event stay")

        // Replayed, the pruned event comes back under the same webhook-id.
        _ = try await test.store.replay(endpoint.id, from: 1, limit: 1, in: test.id)
        try await test.store.releaseDeliveryLeases()
        let again = try await test.store.claimDeliveries(endpoints: 1, perEndpoint: 2, excluding: [], leaseUntil: test.clock.now.addingTimeInterval(60))
        #expect(again.first?.map { $0.event.sequence } == [2, 1], "a replay goes after what is already queued")
        let replayed = try #require(again.first?.last)
        #expect(replayed.event.webhookID(endpoint: endpoint.id) == first.event.webhookID(endpoint: endpoint.id))
    }

    /// SQLite numbers a new row one past the largest id there is: pruning keeps each table's
    /// newest row, so no delivery id, and no `msg_e{id}` webhook-id, is given out again.
    @Test func pruningEverythingGivesNoIDOutAgain() async throws {
        let test = try await TestStore()
        let endpoint = try await endpoint(test)
        _ = try await test.optOut("ann@example.com")
        let claimed = try await test.store.claimDeliveries(endpoints: 1, perEndpoint: 1, excluding: [], leaseUntil: test.clock.now.addingTimeInterval(60))
        let first = try #require(claimed.first?.first)
        try await test.store.recordAttempts([DeliveryAttempt(delivery: first.id, endpoint: endpoint.id, outcome: .succeeded, at: test.clock.now)])
        _ = try await test.store.pruneWebhooks(finishedBefore: test.clock.now.addingTimeInterval(1))
        _ = try await test.optOut("bob@example.com")
        let next = try #require(try await test.store.claimDeliveries(
            endpoints: 1, perEndpoint: 1, excluding: [], leaseUntil: test.clock.now.addingTimeInterval(60)).first?.first)
        #expect(next.id != first.id)
        #expect(try await test.sql("SELECT id FROM webhook_outbox WHERE ledger_seq = 2") != [["1"]])
    }

    /// A deleted endpoint's pending deliveries are never sent: once its deletion is older than
    /// the retention they go, and the events (addresses in clear) that only they held.
    @Test func aDeletedEndpointsPendingDeliveriesArePruned() async throws {
        let test = try await TestStore()
        let gone = try await endpoint(test)
        _ = try await test.optOut("ann@example.com")
        _ = try await endpoint(test)
        _ = try await test.optOut("bob@example.com")
        #expect(try await counts(test) == (2, 3))
        #expect(try await test.store.deleteWebhook(gone.id, in: test.id))
        let kept = try await test.store.pruneWebhooks(finishedBefore: test.clock.now.addingTimeInterval(-1))
        #expect(kept.deliveries == 0, "within the retention")
        let pruned = try await test.store.pruneWebhooks(finishedBefore: test.clock.now.addingTimeInterval(1))
        #expect(pruned.deliveries == 2 && pruned.events == 1, "\(pruned)")
        #expect(try await test.sql("SELECT COUNT(*) FROM webhook_outbox") == [["1"]])
    }

    @Test func aReplaySkipsEventsAlreadyPendingForTheEndpoint() async throws {
        let test = try await TestStore()
        let endpoint = try await endpoint(test)
        _ = try await test.optOut("ann@example.com")
        _ = try await test.optOut("bob@example.com")
        let replayed = try await test.store.replay(endpoint.id, from: 1, limit: 100, in: test.id)
        #expect(replayed.queued == 0, "both are still pending: nothing is queued twice")
        #expect(try await counts(test) == (2, 2))
    }
}
