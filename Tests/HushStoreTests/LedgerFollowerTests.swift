import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

/// The follower applies changes in ledger order even when catch-ups overlap: a notification's
/// catch-up still waiting for the database while this process's own write is applied.
@Suite struct LedgerFollowerTests {
    /// A feed whose first read waits until the test lets it go, as a slow query would.
    actor GatedFeed: ChangeFeed {
        let gate: AsyncStream<Void>
        private let release: AsyncStream<Void>.Continuation
        private(set) var reads = 0
        /// What the index held for the key at each read after the first: a read that comes after
        /// a stale batch was applied sees what the stale batch did.
        private(set) var heldAtReads: [[Int64]] = []
        let index: SuppressionIndex
        let key: IndexKey
        let optedOut: IndexChange
        let optedIn: IndexChange
        let optedOutAgain: IndexChange

        init(index: SuppressionIndex, key: IndexKey, optedOut: IndexChange, optedIn: IndexChange, optedOutAgain: IndexChange) {
            (gate, release) = AsyncStream.makeStream()
            self.index = index
            self.key = key
            self.optedOut = optedOut
            self.optedIn = optedIn
            self.optedOutAgain = optedOutAgain
        }

        func letTheFirstReadGo() { release.yield() }

        nonisolated func head() async throws -> FeedPosition { FeedPosition(ledger: 3, links: 0, erasures: 0) }

        /// The ledger: 1 opt-out, 2 the opt-in lifting it, 3 the opt-out again. The first read
        /// (from 1) stops at 2 and waits; later reads see everything.
        func changes(after position: FeedPosition, limit: Int) async throws -> ChangeBatch {
            reads += 1
            if reads == 1 {
                for await _ in gate { break }
                return ChangeBatch(changes: [optedIn], position: FeedPosition(ledger: 2, links: 0, erasures: 0))
            }
            heldAtReads.append(index.entries(for: key).map(\.eventSequence))
            let all = [(2, optedIn), (3, optedOutAgain)].filter { $0.0 > position.ledger }.map(\.1)
            return ChangeBatch(changes: all, position: FeedPosition(ledger: 3, links: 0, erasures: 0))
        }

        nonisolated func load(into index: SuppressionIndex) async throws -> FeedPosition { .start }
        nonisolated func listNames() async throws -> [ListID: String] { [:] }
        nonisolated func marks(at position: FeedPosition) async throws -> String { "" }
    }

    static func entry(_ sequence: Int64) throws -> IndexEntry {
        IndexEntry(
            eventSequence: sequence, sinceMilliseconds: 0, list: ListID(rawValue: 1), scope: .organization,
            channel: .only(.email), source: .api, listIsDefault: true, hold: false)
    }

    @Test func aBatchReadBeforeANewerWriteWasAppliedIsNotAppliedAfterIt() async throws {
        let key = IndexKey(OrganizationID(rawValue: 1), "ann@example.com")
        let index = SuppressionIndex(erasureKey: .random())
        index.add(try Self.entry(1), for: key)
        let feed = GatedFeed(
            index: index, key: key, optedOut: .add(key, try Self.entry(1)), optedIn: .remove(key, try Self.entry(1)),
            optedOutAgain: .add(key, try Self.entry(3)))
        let follower = LedgerFollower(
            feed: feed, index: index, position: FeedPosition(ledger: 1, links: 0, erasures: 0), erasureKey: .random(),
            logger: .init(label: "test"))
        // A notification's catch-up reads from 1 and waits in the database.
        let notified = Task { try await follower.catchUp() }
        while await feed.reads < 1 { await Task.yield() }
        // Meanwhile this process writes 3 (another node wrote 2): the gap is read and applied.
        try await follower.applyOwn(
            ChangeBatch(changes: [.add(key, try Self.entry(3))], position: FeedPosition(ledger: 3, links: 0, erasures: 0)),
            from: FeedPosition(ledger: 2, links: 0, erasures: 0))
        #expect(index.entries(for: key).map(\.eventSequence) == [3])
        // The stale read (the opt-in, as of 2) comes back last: it must not undo the opt-out of 3.
        await feed.letTheFirstReadGo()
        try await notified.value
        #expect(index.entries(for: key).map(\.eventSequence) == [3], "the opt-out written after the opt-in stands")
        let heldAtReads = await feed.heldAtReads
        #expect(!heldAtReads.contains([]), "the opt-out of 3 was never undone, not even for a moment: \(heldAtReads)")
        #expect(await follower.position.ledger == 3, "the position never moves back")
    }
}
