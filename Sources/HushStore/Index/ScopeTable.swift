import HushCore
import Synchronization

/// A scope's number in the index's `ScopeTable`.
struct ScopeID: Hashable, Sendable {
    let rawValue: UInt32
}

/// Every scope the index has seen, numbered from 0 in the order first seen, so an entry holds a
/// number instead of a path. Numbers are never reused or renumbered: a reader that holds a number
/// reads its scope without a lock.
///
/// Scopes live in fixed chunks that never move. A number reaches a reader only inside an entry
/// read under a shard lock that the writer took after storing the scope, so the scope is visible
/// by then.
final class ScopeTable: @unchecked Sendable {
    private static let chunkSize = 1024
    private static let chunkCount = PackedEntry.maximumScopes / chunkSize

    private let chunks: UnsafeMutablePointer<UnsafeMutablePointer<Scope>?>
    private let numbers = Mutex<(ids: [Scope: ScopeID], count: Int)>(([:], 0))
    /// A write may bring a new scope only while fewer than this many are numbered
    /// (`admits`). The room past it (a million) is left for what other nodes and commands wrote
    /// meanwhile, so that applying events never runs out of numbers: the table cannot grow past
    /// `PackedEntry.maximumScopes`.
    private let writable = Atomic<Int>(PackedEntry.maximumScopes - (1 << 20))

    /// The organization's number: the first scope numbered.
    static let organization = ScopeID(rawValue: 0)

    init() {
        chunks = .allocate(capacity: Self.chunkCount)
        chunks.initialize(repeating: nil, count: Self.chunkCount)
        let organization = id(for: .organization)
        assert(organization == Self.organization)
    }

    deinit {
        let count = numbers.withLock { $0.count }
        for chunk in 0..<Self.chunkCount {
            guard let storage = chunks[chunk] else { continue }
            storage.deinitialize(count: min(Self.chunkSize, count - chunk * Self.chunkSize))
            storage.deallocate()
        }
        chunks.deallocate()
    }

    /// The scope's number, given it now if it has none.
    func id(for scope: Scope) -> ScopeID {
        numbers.withLock { numbers in
            if let id = numbers.ids[scope] { return id }
            precondition(numbers.count < PackedEntry.maximumScopes, "the index holds at most \(PackedEntry.maximumScopes) scopes")
            let (chunk, offset) = numbers.count.quotientAndRemainder(dividingBy: Self.chunkSize)
            if chunks[chunk] == nil { chunks[chunk] = .allocate(capacity: Self.chunkSize) }
            (chunks[chunk]! + offset).initialize(to: scope)
            let id = ScopeID(rawValue: UInt32(numbers.count))
            numbers.ids[scope] = id
            numbers.count += 1
            return id
        }
    }

    /// Whether a write may file an entry at `scope`: it has a number, or there is room for one.
    func admits(_ scope: Scope) -> Bool {
        numbers.withLock { numbers in numbers.ids[scope] != nil || numbers.count < writable.load(ordering: .relaxed) }
    }

    /// How many scopes writes may bring in all.
    var writableCount: Int { writable.load(ordering: .relaxed) }

    /// Lowers `writableCount` (tests, which cannot number eight million scopes).
    func limitWrites(to count: Int) {
        writable.store(min(count, PackedEntry.maximumScopes), ordering: .relaxed)
    }

    /// Every scope, in number order.
    var all: [Scope] {
        (0..<numbers.withLock { $0.count }).map { self[ScopeID(rawValue: UInt32($0))] }
    }

    /// The organization, which most entries are at, is named without reading a chunk or
    /// retaining its path.
    subscript(id: ScopeID) -> Scope {
        if id == Self.organization { return .organization }
        let (chunk, offset) = Int(id.rawValue).quotientAndRemainder(dividingBy: Self.chunkSize)
        return chunks[chunk]![offset]
    }
}
