import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

/// The ordering contract every backend's `ChangeFeed` keeps: a position becomes visible only
/// after every lower one, so a follower that reads `position > last` never skips one.
@Suite(.everyBackend) struct ChangeFeedContractTests {
    @Test func positionsBecomeVisibleInOrderWhileSeveralWritersWrite() async throws {
        let first = try await TestStore()
        let second = try await TestStore(database: first.database)  // another process
        let reader = try await TestStore(database: first.database)
        let feed = reader.indexed.feed
        let writers = 6
        let each = 30
        let total = writers * each
        let (gaps, seen) = try await withThrowingTaskGroup(of: (gaps: [String], seen: Int).self) { group in
            for writer in 0..<writers {
                let store = writer % 2 == 0 ? first : second
                group.addTask {
                    for index in 0..<each { _ = try await store.optOut("w\(writer)-\(index)@example.com") }
                    return ([], 0)
                }
            }
            // Reads while they write: every batch starts right after the last position read.
            group.addTask {
                var position = FeedPosition.start
                var gaps: [String] = []
                var seen = 0
                // Until the feed reaches the last position written (each opt-out takes one).
                while position.ledger < Int64(total) {
                    let batch = try await feed.changes(after: position, limit: 7)
                    var expected = position.ledger + 1
                    for change in batch.changes {
                        guard case .add(_, let entry) = change else { continue }
                        if entry.eventSequence != expected { gaps.append("read \(entry.eventSequence) after \(expected - 1)") }
                        expected = entry.eventSequence + 1
                        seen += 1
                    }
                    if batch.position == position { try await Task.sleep(for: .milliseconds(1)) }
                    position = batch.position
                }
                return (gaps, seen)
            }
            var gaps: [String] = []
            var seen = 0
            for try await result in group {
                gaps += result.gaps
                seen += result.seen
            }
            return (gaps, seen)
        }
        #expect(gaps.isEmpty, "positions became visible out of order: \(gaps)")
        #expect(seen == total)
        try await reader.store.catchUp()
        #expect(reader.store.indexedCount == total, "the follower applied every event")
        #expect(try (0..<writers).allSatisfy { writer in try reader.isBlocked("w\(writer)-\(each - 1)@example.com") })
    }

    @Test func aStoreAppliesAPositionWhenAskedWithoutWaitingForItsNextPoll() async throws {
        let writer = try await TestStore()
        let reader = try await TestStore(database: writer.database)  // another process, not following
        _ = try await writer.optOut("asked@example.com")
        let position = await writer.store.appliedSequence()
        #expect(position == 1)
        #expect(try !reader.isBlocked("asked@example.com"), "not followed: its service is not running")
        #expect(try await reader.store.waitUntilApplied(position, within: .seconds(60)))
        #expect(try reader.isBlocked("asked@example.com"))
        #expect(await reader.store.appliedSequence() == position)
        #expect(try await !reader.store.waitUntilApplied(position + 100, within: .milliseconds(10)), "no write reached it")
    }
}
