import HushCore
import Logging
import Synchronization

/// Keeps an index in step with the ledger: applies this process's own writes as they commit
/// and picks up other processes' writes by polling the heads.
actor LedgerFollower {
    private let feed: any ChangeFeed
    let index: SuppressionIndex
    private(set) var position: FeedPosition
    private let erasureKey: ErasureKey
    private let logger: Logger

    /// Called after an erasure is applied (the index's snapshot file, which may hold the erased
    /// address, is removed).
    private let erased: @Sendable () -> Void

    init(
        feed: any ChangeFeed, index: SuppressionIndex, position: FeedPosition, erasureKey: ErasureKey, logger: Logger,
        erased: @escaping @Sendable () -> Void = {}
    ) {
        self.erased = erased
        self.feed = feed
        self.index = index
        self.position = position
        self.erasureKey = erasureKey
        self.logger = logger
    }

    /// The `from` of this process's writes that took the append lock and have not handed their
    /// batch in yet (`willCommit`), in lock order. Writes commit in lock order but may hand
    /// their batches in out of it (a large batch overlaps others, `PostgresStore.record`).
    /// Behind a mutex rather than in the actor: a write announces itself while it holds the
    /// append lock, and a hop onto a busy actor there held every other writer up (16 writers of
    /// single opt-outs: 2 000/s with the hop, 3 300/s without).
    private nonisolated let committing = Mutex<[FeedPosition]>([])
    /// Writes that wait for an earlier one of `committing` to hand its batch in.
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// How many writes wait for an earlier one to hand its batch in.
    var waitingWrites: Int { waiting.count }

    /// A write of this process holds the append lock, and its changes follow `from`.
    nonisolated func willCommit(from: FeedPosition) {
        committing.withLock { $0.append(from) }
    }

    /// A write announced with `willCommit` did not commit.
    func abandoned(from: FeedPosition) {
        settled(from)
        followUpCutShort()
    }

    private func settled(_ from: FeedPosition) {
        committing.withLock { committing in
            if let offset = committing.firstIndex(of: from) { committing.remove(at: offset) }
        }
        wakeWaiting()
    }

    private func wakeWaiting() {
        let woken = waiting
        waiting = []
        for continuation in woken { continuation.resume() }
    }

    /// Applies a write this process committed. `batch.position` is where the database stood
    /// after it; `from` where it stood before. When another write came in between, the gap is
    /// filled first, so changes are always applied in ledger order: by that write's own batch
    /// when it is this process's and still to be handed in, else read from the database.
    func applyOwn(_ batch: ChangeBatch, from: FeedPosition) async throws {
        settled(from)
        while position != from, position.isBehind(from), committing.withLock({ $0.contains { $0.isBehind(from) } }) {
            await withCheckedContinuation { waiting.append($0) }
        }
        defer { followUpCutShort() }
        if position == from {
            apply(batch)
        } else if position.isBehind(batch.position) {
            try await catchUp(to: batch.position)
        }
    }

    /// Runs `body` if the index stands at `position`, with nothing applied meanwhile (the actor
    /// runs nothing else until it returns); says whether it ran.
    func whileAt(_ position: FeedPosition, _ body: () throws -> Void) rethrows -> Bool {
        guard self.position == position else { return false }
        try body()
        return true
    }

    /// Reads and applies everything the database has beyond the current position.
    func catchUp() async throws {
        let head = try await feed.head()
        if position.isBehind(head) {
            try await catchUp(to: head)
        }
    }

    /// Like `catchUp`, but only up to the first of this process's writes still to be handed in
    /// (`committing`): from there on those writes bring their own batches. For the poll and
    /// the other nodes' notifications, which want other processes' writes: a poll that came
    /// between a large batch's commit and its hand-in read the batch back (10 000 rows, 117 ms
    /// of the server's time, every second under load).
    ///
    /// What lies beyond the own write (another node's write after it) is read once this
    /// process's writes have all handed their batches in (`cutShort`), not at the next poll.
    func catchUpToOwnWrites() async throws {
        let head = try await feed.head()
        let target = committing.withLock { $0.first }.map { $0.isBehind(head) ? $0 : head } ?? head
        if target != head { cutShort = true }
        if position.isBehind(target) {
            try await catchUp(to: target)
        }
    }

    /// A catch-up stopped at an own write with more beyond it.
    private var cutShort = false

    /// Reads what a catch-up left beyond this process's writes, once none is left to hand in.
    private func followUpCutShort() {
        guard cutShort, committing.withLock({ $0.isEmpty }) else { return }
        cutShort = false
        Task { [weak self] in try? await self?.catchUpToOwnWrites() }
    }

    /// The actor is reentrant across the read: while one catch-up waits for the database,
    /// another (a notification, this process's own write) may apply what it is reading. A batch
    /// read from a position that is no longer current is dropped and read again from where the
    /// index stands: applied late it would undo newer changes (an opt-in removing the opt-out
    /// that followed it) and move the position back.
    private func catchUp(to target: FeedPosition) async throws {
        while position.isBehind(target) {
            let from = position
            let batch = try await feed.changes(after: from, limit: 10_000)
            guard position == from else { continue }
            guard batch.position != position else { return }
            apply(batch)
        }
    }

    private func apply(_ batch: ChangeBatch) {
        // A run of additions is filed together (`SuppressionIndex.add(_:)`): additions commute
        // (a held repeat wins in either order), so only the order between runs and the other
        // changes matters, and that is kept.
        var additions: [DigestSlot] = []
        for change in batch.changes {
            if case .add(let key, let entry) = change {
                additions.append(index.slot(entry, for: key))
                continue
            }
            if !additions.isEmpty {
                index.add(additions)
                additions.removeAll(keepingCapacity: true)
            }
            switch change {
            case .add: break
            case .remove(let key, let entry): index.remove(entry, for: key)
            case .link(let address, let contact): index.link(address, to: contact)
            case .erase(let erasure):
                index.apply(erasure, using: erasureKey)
                erased()
            case .name(let list, let name): index.noteListName(name, for: list)
            }
        }
        index.add(additions)
        position = batch.position
        wakeWaiting()
    }

    /// Reads every list name again: a list renamed by another process is seen within
    /// `listNamesLifetime`, as `DirectoryCache` sees other changes to lists.
    func refreshListNames() async throws {
        let version = index.listNamesVersion
        index.replaceListNames(with: try await feed.listNames(), readAt: version)
    }

    static let listNamesLifetime: Duration = .seconds(1)

    /// Polls the heads until cancelled, and the list names every `listNamesLifetime`.
    func follow(every interval: Duration) async {
        var namesRead = ContinuousClock.now
        while !Task.isCancelled {
            do {
                try await catchUpToOwnWrites()
                if ContinuousClock.now - namesRead >= Self.listNamesLifetime {
                    namesRead = ContinuousClock.now
                    try await refreshListNames()
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("ledger follow failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
