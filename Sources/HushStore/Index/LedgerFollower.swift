import HushCore
import Logging

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

    /// Applies a write this process committed. `batch.position` is where the database stood
    /// after it; `from` where it stood before. When another process wrote in between, the gap
    /// is read from the database first, so changes are always applied in ledger order.
    func applyOwn(_ batch: ChangeBatch, from: FeedPosition) async throws {
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
                try await catchUp()
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
