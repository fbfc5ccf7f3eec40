import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HushCore
import Logging
import ServiceLifecycle
import Synchronization

/// The in-memory index over any backend's ledger, backend-neutral: it loads the index from the
/// backend's `ChangeFeed` at open, applies this process's own writes as they commit, follows
/// the writes of other processes and nodes, and answers checks. A backend gives it a feed and
/// calls `applyOwn` after each commit that changes suppressions; it owns nothing else.
final class IndexedStore: SuppressionChecks {
    let index: SuppressionIndex
    let follower: LedgerFollower
    /// The backend's streams, as the follower reads them.
    let feed: any ChangeFeed
    private let followInterval: Duration
    private let follows: Bool
    /// The file the index is written to at close and read back from at open (`IndexSnapshot`).
    private let snapshot: String?
    private let logger: Logger
    private let savedSnapshot = Atomic<Bool>(false)
    /// Whether the index came from the snapshot rather than from loading every suppression.
    let restoredFromSnapshot: Bool

    /// Loads the index from `feed` (or, when `loadsIndex` is false, only notes where the ledger
    /// stands: a short-lived command that writes needs no index). With a `snapshot` that matches
    /// the database, the index is read from it and the ledger's tail replayed instead;
    /// `expectedCount` (the suppressions to make room for) is asked only for a load.
    init(
        feed: any ChangeFeed, erasureKey: ErasureKey, loadsIndex: Bool, expectedCount: () async throws -> Int,
        followInterval: Duration, logger: Logger, snapshot: String? = nil
    ) async throws {
        let restored = if loadsIndex, let snapshot {
            await Self.restore(snapshot, feed: feed, erasureKey: erasureKey, logger: logger)
        } else {
            (index: SuppressionIndex, position: FeedPosition)?.none
        }
        let index: SuppressionIndex
        let position: FeedPosition
        if let restored {
            (index, position) = restored
            index.replaceListNames(with: try await feed.listNames(), readAt: index.listNamesVersion)
        } else {
            index = SuppressionIndex(erasureKey: erasureKey, expectedCount: loadsIndex ? try await expectedCount() : 0)
            position = loadsIndex ? try await feed.load(into: index) : try await feed.head()
        }
        self.index = index
        self.feed = feed
        // A snapshot written before an erasure may hold the address (a linked address's text, or
        // a digest anyone with the file can test a guess against): it goes at once, and the next
        // close writes one without it.
        self.follower = LedgerFollower(feed: feed, index: index, position: position, erasureKey: erasureKey, logger: logger) {
            if let snapshot { IndexSnapshot.remove(snapshot) }
        }
        self.followInterval = followInterval
        self.follows = loadsIndex
        self.snapshot = snapshot
        self.logger = logger
        self.restoredFromSnapshot = restored != nil
        if restored != nil {
            // What was written after the snapshot, before the first check.
            try await follower.catchUp()
            logger.info("index read from its snapshot", metadata: ["file": "\(snapshot ?? "")", "entries": "\(index.count)"])
        }
    }

    /// The index and its position from `snapshot`; nil (and why, logged) when there is none, it
    /// does not match the database, or an erasure was recorded after it. The ledger names an
    /// erased address's later events by its hash, so replaying an opt-in made before the erasure
    /// would miss the entry the snapshot keeps under the address itself; and the file may hold
    /// the address. So it is removed and the index loaded instead.
    private static func restore(
        _ snapshot: String, feed: any ChangeFeed, erasureKey: ErasureKey, logger: Logger
    ) async -> (index: SuppressionIndex, position: FeedPosition)? {
        IndexSnapshot.removeUnfinished(beside: snapshot)
        guard access(snapshot, F_OK) == 0 else { return nil }
        do {
            guard let restored = try await IndexSnapshot.read(from: snapshot, erasureKey: erasureKey, marks: { try await feed.marks(at: $0) }) else {
                logger.notice("the index snapshot does not match the database; loading from the database", metadata: ["file": "\(snapshot)"])
                return nil
            }
            guard try await feed.head().erasures == restored.position.erasures else {
                logger.notice("an address was erased after the index snapshot; loading from the database", metadata: ["file": "\(snapshot)"])
                IndexSnapshot.remove(snapshot)
                return nil
            }
            return restored
        } catch {
            logger.warning("the index snapshot could not be read; loading from the database", metadata: ["file": "\(snapshot)", "error": "\(error)"])
            return nil
        }
    }

    /// Writes the index to its snapshot file at the position it has applied; nothing for a store
    /// that keeps no index or no snapshot. A store calls it as it closes. It catches up first, so
    /// that an erasure another process recorded is applied before the file is written.
    func saveSnapshot() async throws {
        // Once: a store closed twice finds its database gone the second time.
        guard follows, let snapshot, savedSnapshot.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else {
            return
        }
        try await follower.catchUp()
        let position = await follower.position
        let marks = try await feed.marks(at: position)
        let index = self.index
        let written = try await follower.whileAt(position) {
            try IndexSnapshot.write(index, position: position, marks: marks, to: snapshot)
        }
        if !written { logger.notice("the index moved while its snapshot was prepared; none was written") }
    }

    /// Follows the feed until the service group shuts down or the task is cancelled.
    func run() async throws {
        guard follows else { return }
        let follower = self.follower
        let interval = followInterval
        await cancelWhenGracefulShutdown {
            await follower.follow(every: interval)
        }
    }

    /// A write of this process holds the append lock; its changes follow `from`. Its batch is
    /// then handed to `applyOwn`, or the write to `abandoned(from:)` when it does not commit.
    func willCommit(from: FeedPosition) {
        follower.willCommit(from: from)
    }

    func abandoned(from: FeedPosition) async {
        await follower.abandoned(from: from)
    }

    /// Applies a write this process committed before the write returns, so every later check sees it.
    func applyOwn(_ batch: ChangeBatch, from: FeedPosition) async throws {
        do {
            try await follower.applyOwn(batch, from: from)
        } catch {
            // Committed but not applied (the request was cancelled, or the read of a gap
            // failed): caught up at once rather than at the next poll, since a store does not
            // wake on its own notifications.
            let follower = self.follower
            Task { try? await follower.catchUp() }
            throw error
        }
    }

    /// Applies other processes' writes, as a notification of them asks (`LedgerFollower.catchUpToOwnWrites`).
    func followUp() async throws {
        guard follows else { return }
        try await follower.catchUpToOwnWrites()
    }

    /// Applies everything the feed has beyond where the index stands; nothing for a store that
    /// keeps no index (a command's), which would otherwise read back all it just wrote (an
    /// import: every row again).
    func catchUp() async throws {
        guard follows else { return }
        try await follower.catchUp()
    }

    /// A list's name, as decisions name it, known before the follower reads it.
    func noteListName(_ name: String, for list: ListID) {
        index.noteListName(name, for: list)
    }

    // MARK: SuppressionChecks

    func decisions(for addresses: [Address], in organization: OrganizationID, query: CheckQuery) -> [Decision] {
        index.decisions(for: addresses, in: organization, query: query)
    }

    func blocks(for address: Address, in organization: OrganizationID, query: CheckQuery) -> Decision.Blocks {
        index.blocks(for: address, in: organization, query: query)
    }

    func decision(for address: Address, contact: ContactID, in organization: OrganizationID, query: CheckQuery) -> Decision {
        index.decision(for: address, contact: contact, in: organization, query: query)
    }

    func blocks(ofContact contact: ContactID, in organization: OrganizationID, query: CheckQuery) -> [Decision.Block] {
        index.blocks(ofContact: contact, in: organization, query: query)
    }

    var indexedCount: Int { index.count }

    /// Refuses opt-outs at new scopes once the index has numbered as many scopes as writes may
    /// bring (`ScopeTable.admits`): an entry holds its scope as a number, and a table that ran
    /// out would stop every node applying the events. Every write of opt-outs asks this first.
    func requireRoom(for optOuts: some Sequence<OptOut>) throws(HushError) {
        for optOut in optOuts where !index.scopes.admits(optOut.scope) {
            throw HushError(.limitExceeded, field: "scope", """
                this installation holds at most \(index.scopes.writableCount) distinct scopes, and "\(optOut.scope.path)" \
                would be a new one: use scopes already in use (a scope names a client or user, not a message)
                """)
        }
    }

    func appliedSequence() async -> Int64 {
        await follower.position.ledger
    }

    /// A position past the database's head was never acknowledged to anyone (positions become
    /// visible in order), so it is refused at once rather than waited for: a caller naming a
    /// made-up position costs one read, not `limit` of them.
    ///
    /// Contact links and erasures have no ledger position: those committed before this call (a
    /// link another node acknowledged a moment ago) are read too, at the cost of one read of the
    /// heads, so a check that passes `min_sequence` sees every write acknowledged before it.
    func waitUntilApplied(_ sequence: Int64, within limit: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while await follower.position.ledger < sequence {
            try await follower.catchUpToOwnWrites()
            if await follower.position.ledger >= sequence { break }
            guard try await feed.head().ledger >= sequence, ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
        let head = try await feed.head()
        let position = await follower.position
        if position.links < head.links || position.erasures < head.erasures {
            try await follower.catchUp()
        }
        return true
    }
}

/// A backend that answers checks through an `IndexedStore`: every backend does.
protocol IndexBacked {
    var indexed: IndexedStore { get }
}
