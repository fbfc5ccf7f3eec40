import Foundation
import HushCore
import Synchronization

/// Organizations and their lists, kept in memory for a moment so the check path does not read
/// the database on every request. This process's own changes clear it at once; changes made by
/// another process are seen within `lifetime` by the store's clock. Writes never use it: they
/// read inside their transaction.
final class DirectoryCache: Sendable {
    private struct Entry<Value> {
        let value: Value
        let fetched: Date
    }

    private let lifetime: TimeInterval
    private let now: @Sendable () -> Date
    private let organizations = Mutex<[OrganizationID: Entry<Organization>]>([:])
    private let lists = Mutex<[OrganizationID: Entry<[OptOutList]>]>([:])
    /// Counts `forget` calls: a load that one overtook read the database before the change it
    /// follows, and is answered but not kept (kept, it would stand for a second after the change).
    private let forgets = Atomic<UInt64>(0)

    init(lifetime: TimeInterval = 1, now: @escaping @Sendable () -> Date) {
        self.lifetime = lifetime
        self.now = now
    }

    func organization(_ id: OrganizationID, load: () async throws -> Organization?) async throws -> Organization? {
        try await cached(id, in: organizations, load: load)
    }

    /// The organization while its entry is fresh, without loading it.
    func cachedOrganization(_ id: OrganizationID) -> Organization? {
        let now = self.now()
        guard let entry = organizations.withLock({ $0[id] }), isFresh(entry, now: now) else { return nil }
        return entry.value
    }

    /// A clock set back makes an entry stale rather than fresh for longer.
    private func isFresh<Value>(_ entry: Entry<Value>, now: Date) -> Bool {
        (0..<lifetime).contains(now.timeIntervalSince(entry.fetched))
    }

    func lists(of id: OrganizationID, load: () async throws -> [OptOutList]) async throws -> [OptOutList] {
        try await cached(id, in: lists, load: { try await load() }) ?? []
    }

    func forget(_ id: OrganizationID) {
        forgets.add(1, ordering: .releasing)
        _ = organizations.withLock { $0.removeValue(forKey: id) }
        _ = lists.withLock { $0.removeValue(forKey: id) }
    }

    private func cached<Value: Sendable>(
        _ id: OrganizationID, in table: borrowing Mutex<[OrganizationID: Entry<Value>]>, load: () async throws -> Value?
    ) async throws -> Value? {
        let now = self.now()
        if let entry = table.withLock({ $0[id] }), isFresh(entry, now: now) { return entry.value }
        let before = forgets.load(ordering: .acquiring)
        guard let value = try await load() else { return nil }
        table.withLock { table in
            // Checked under the table's lock, which `forget` takes after counting.
            if forgets.load(ordering: .acquiring) == before { table[id] = Entry(value: value, fetched: now) }
        }
        return value
    }
}
