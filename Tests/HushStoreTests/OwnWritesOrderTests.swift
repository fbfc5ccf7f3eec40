import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

/// This process's writes commit in append-lock order but may hand their batches to the index
/// out of it (large batches overlap). The index applies them in ledger order from their own
/// batches, and reads the database only for a gap none of them will fill.
@Suite struct OwnWritesOrderTests {
    /// A feed holding what the database holds (one batch per write), counting its reads.
    actor CountingFeed: ChangeFeed {
        let ledger: [ChangeBatch]
        private(set) var reads = 0

        init(_ ledger: [ChangeBatch]) { self.ledger = ledger }

        func changes(after position: FeedPosition, limit: Int) async throws -> ChangeBatch {
            reads += 1
            let beyond = ledger.filter { position.isBehind($0.position) }
            return ChangeBatch(changes: beyond.flatMap(\.changes), position: beyond.last?.position ?? position)
        }

        nonisolated func head() async throws -> FeedPosition { ledger.last?.position ?? .start }
        nonisolated func load(into index: SuppressionIndex) async throws -> FeedPosition { .start }
        nonisolated func listNames() async throws -> [ListID: String] { [:] }
        nonisolated func marks(at position: FeedPosition) async throws -> String { "" }
    }

    static func at(_ ledger: Int64) -> FeedPosition { FeedPosition(ledger: ledger, links: 0, erasures: 0) }

    static func write(_ sequence: Int64, _ address: String) -> ChangeBatch {
        let entry = IndexEntry(
            eventSequence: sequence, sinceMilliseconds: 0, list: ListID(rawValue: 1), scope: .organization,
            channel: .only(.email), source: .api, listIsDefault: true, hold: false)
        return ChangeBatch(changes: [.add(IndexKey(OrganizationID(rawValue: 1), address), entry)], position: at(sequence))
    }

    static func follower(feed: CountingFeed, index: SuppressionIndex) -> LedgerFollower {
        LedgerFollower(feed: feed, index: index, position: at(1), erasureKey: .random(), logger: .init(label: "test"))
    }

    /// Two writes of this process hold the lock in turn (1 to 2, then 2 to 3); the later one
    /// hands its batch in first and waits.
    static func laterWriteWaiting() async throws -> (LedgerFollower, CountingFeed, SuppressionIndex, Task<Void, any Error>) {
        let index = SuppressionIndex(erasureKey: .random())
        let feed = CountingFeed([write(2, "a@example.com"), write(3, "b@example.com")])
        let follower = follower(feed: feed, index: index)
        follower.willCommit(from: at(1))
        follower.willCommit(from: at(2))
        let later = Task { try await follower.applyOwn(write(3, "b@example.com"), from: at(2)) }
        while await follower.waitingWrites < 1 { await Task.yield() }
        return (follower, feed, index, later)
    }

    @Test func aLaterWriteHandedInFirstWaitsForTheEarlierOnesBatch() async throws {
        let (follower, feed, index, later) = try await Self.laterWriteWaiting()
        #expect(index.count == 0, "nothing is applied out of order")
        try await follower.applyOwn(Self.write(2, "a@example.com"), from: Self.at(1))
        try await later.value
        #expect(index.count == 2)
        #expect(await follower.position == Self.at(3))
        #expect(await feed.reads == 0, "both batches came from the writes, none from the database")
    }

    @Test func whenTheEarlierWriteDoesNotCommitTheGapIsRead() async throws {
        // Here 2 is another node's, written after the write that gave up let the lock go.
        let (follower, feed, index, later) = try await Self.laterWriteWaiting()
        await follower.abandoned(from: Self.at(1))
        try await later.value
        #expect(await feed.reads >= 1, "the gap was read from the database")
        #expect(await follower.position == Self.at(3))
        #expect(index.count == 2)
    }

    /// The index stands at 2; this process's write of 3 has committed and not handed its batch
    /// in, `later` follows it in the database; a poll comes and reads nothing.
    static func polledBeforeTheOwnWriteOf3IsIn(
        then later: [ChangeBatch]
    ) async throws -> (LedgerFollower, CountingFeed, SuppressionIndex) {
        let index = SuppressionIndex(erasureKey: .random())
        let feed = CountingFeed([write(3, "b@example.com")] + later)
        let follower = LedgerFollower(feed: feed, index: index, position: at(2), erasureKey: .random(), logger: .init(label: "test"))
        follower.willCommit(from: at(2))
        try await follower.catchUpToOwnWrites()
        #expect(await feed.reads == 0)
        return (follower, feed, index)
    }

    @Test func aPollBetweenAnOwnWritesCommitAndItsHandInDoesNotReadItBack() async throws {
        // The write of 3 has committed (the head is 3) and not handed its batch in yet.
        let (follower, feed, _) = try await Self.polledBeforeTheOwnWriteOf3IsIn(then: [])
        try await follower.applyOwn(Self.write(3, "b@example.com"), from: Self.at(2))
        #expect(await follower.position == Self.at(3))
        #expect(await feed.reads == 0)
    }

    @Test func anotherNodesWriteAfterAnOwnWriteIsReadOnceTheOwnWriteIsIn() async throws {
        // 3 is this process's write, committed and not handed in; 4 another node's, after it.
        let (follower, _, index) = try await Self.polledBeforeTheOwnWriteOf3IsIn(then: [Self.write(4, "c@example.com")])
        try await follower.applyOwn(Self.write(3, "b@example.com"), from: Self.at(2))
        #expect(try await eventually { await follower.position == Self.at(4) }, "read without waiting for the next poll")
        #expect(index.count == 2)
    }

    @Test func aGapNoOwnWriteWillFillIsReadAtOnce() async throws {
        let index = SuppressionIndex(erasureKey: .random())
        let feed = CountingFeed([Self.write(2, "a@example.com"), Self.write(3, "b@example.com")])
        let follower = Self.follower(feed: feed, index: index)
        follower.willCommit(from: Self.at(2))
        try await follower.applyOwn(Self.write(3, "b@example.com"), from: Self.at(2))
        #expect(await feed.reads >= 1)
        #expect(await follower.position == Self.at(3))
    }
}
