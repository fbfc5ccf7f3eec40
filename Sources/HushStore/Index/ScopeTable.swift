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

    init() {
        chunks = .allocate(capacity: Self.chunkCount)
        chunks.initialize(repeating: nil, count: Self.chunkCount)
        _ = id(for: .organization)
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

    /// Every scope, in number order.
    var all: [Scope] {
        (0..<numbers.withLock { $0.count }).map { self[ScopeID(rawValue: UInt32($0))] }
    }

    subscript(id: ScopeID) -> Scope {
        let (chunk, offset) = Int(id.rawValue).quotientAndRemainder(dividingBy: Self.chunkSize)
        return chunks[chunk]![offset]
    }
}
