import Foundation
import HushCore
import Synchronization
import Testing
@testable import HushStore

/// Single checks read a shard without its lock (a seqlock): whatever a concurrent write does to
/// the table — entries shifted, the table moved to a larger one — a check sees the table as it
/// was before the write or after it, never between.
@Suite struct IndexConcurrencyTests {
    @Test func checksWithoutTheLockNeverSeeAWriteHalfDone() async throws {
        let organization = OrganizationID(rawValue: 1)
        let list = ListID(rawValue: 1)
        // One shard, sized for nothing: every write meets every check, and the table moves
        // to a larger one a dozen times while they run.
        let index = SuppressionIndex(erasureKey: try ErasureKey(secret: [UInt8](repeating: 7, count: 32)), shardCount: 1)
        index.noteListName("default", for: list)
        @Sendable func entry(_ sequence: Int64) -> IndexEntry {
            IndexEntry(
                eventSequence: sequence, sinceMilliseconds: sequence, list: list, scope: .organization,
                channel: .only(.email), source: .api, listIsDefault: true, hold: false)
        }
        let steady = try (0..<64).map { try Address(parsing: "steady\($0)@example.com") }
        for (offset, address) in steady.enumerated() { index.add(entry(Int64(offset + 1)), for: IndexKey(organization, address.normalized)) }
        let never = try (0..<64).map { try Address(parsing: "never\($0)@example.com") }
        let query = CheckQuery(channel: .email)

        let writing = Atomic<Bool>(true)
        let readersStarted = Atomic<Int>(0)
        let wrong = Mutex<[String]>([])
        let checks = Atomic<Int>(0)
        // Three threads of their own (not the test's pool): the writer starts once both readers
        // read, and each reader reads at least once more after the writer is done.
        let work: [@Sendable () -> Void] = [{
            while readersStarted.load(ordering: .acquiring) < 2 { sched_yield() }
            // Churn: adds that grow the table and shift entries, then removals that shift them back.
            for round in 0..<8 {
                let keys = (0..<4_000).map { IndexKey(organization, "churn\(round)-\($0)@example.com") }
                for (offset, key) in keys.enumerated() { index.add(entry(Int64(1_000 + round * 10_000 + offset)), for: key) }
                for (offset, key) in keys.enumerated() { index.remove(entry(Int64(1_000 + round * 10_000 + offset)), for: key) }
            }
            writing.store(false, ordering: .releasing)
        }] + Array(repeating: {
            readersStarted.add(1, ordering: .releasing)
            var done = 0
            var last = false
            while !last {
                last = !writing.load(ordering: .acquiring)
                for address in steady {
                    let blocks = index.decision(for: address, in: organization, query: query).blockedBy
                    if blocks.map(\.listName) != ["default"] { wrong.withLock { $0.append("\(address): \(blocks)") } }
                }
                for address in never where !index.decision(for: address, in: organization, query: query).allowed {
                    wrong.withLock { $0.append("\(address) blocked") }
                }
                done += steady.count + never.count
            }
            checks.add(done, ordering: .relaxed)
        }, count: 2)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = Atomic<Int>(0)
            for body in work {
                Thread.detachNewThread {
                    body()
                    if finished.add(1, ordering: .acquiringAndReleasing).newValue == work.count { continuation.resume() }
                }
            }
        }
        #expect(wrong.withLock { $0.isEmpty }, "\(wrong.withLock { Array($0.prefix(5)) })")
        #expect(checks.load(ordering: .relaxed) > 0)
        #expect(index.count == steady.count)
    }

    @Test func aReadDuringAWriteIsRefusedAndOneAfterItSeesIt() throws {
        let index = SuppressionIndex(erasureKey: try ErasureKey(secret: [UInt8](repeating: 7, count: 32)), shardCount: 1)
        let key = IndexKey(OrganizationID(rawValue: 1), "ann@example.com")
        let entry = IndexEntry(
            eventSequence: 1, sinceMilliseconds: 1, list: ListID(rawValue: 1), scope: .organization,
            channel: .only(.email), source: .api, listIsDefault: true, hold: false)
        let shard = index.shards[0]
        var found = InlineArray<8, PackedEntry>(repeating: .none)
        #expect(shard.read(index.digest(key), into: &found) == 0)
        let during = shard.write { _ in shard.read(index.digest(key), into: &found) }
        #expect(during == nil, "a write under way: the reader must take the lock")
        index.add(entry, for: key)
        #expect(shard.read(index.digest(key), into: &found) == 1)
        #expect(found[0].eventSequence == 1)
        index.link(key, to: try ContactID(parsing: "crm-1"))
        #expect(shard.read(index.digest(key), into: &found) == nil, "linked addresses need their contacts' entries, under the lock")
    }

    /// A batch reads clear keys only. An organization's first erasure can begin after the batch
    /// looked for erasures and move an address's entries under its hashed key before the batch
    /// reads that address's shard; the batch must still find them.
    @Test func aBatchFindsAnAddressErasedWhileItReads() throws {
        let organization = OrganizationID(rawValue: 1)
        let erasureKey = try ErasureKey(secret: [UInt8](repeating: 7, count: 32))
        let index = SuppressionIndex(erasureKey: erasureKey)
        index.noteListName("default", for: ListID(rawValue: 1))
        let addresses = try (0..<64).map { try Address(parsing: "person\($0)@example.com") }
        for (offset, address) in addresses.enumerated() {
            let entry = IndexEntry(
                eventSequence: Int64(offset + 1), sinceMilliseconds: 1, list: ListID(rawValue: 1), scope: .organization,
                channel: .only(.email), source: .api, listIsDefault: true)
            index.add(entry, for: IndexKey(organization, address.normalized))
        }
        let erased = addresses[17]
        let erasure = IndexChange.Erasure(
            organization: organization, hashedKey: erasureKey.hashedKey(for: erased.normalized), eventSequences: [18], contacts: [])

        let decisions = index.decisions(for: addresses, in: organization, query: CheckQuery(channel: .email)) {
            index.apply(erasure, using: erasureKey)
        }
        #expect(index.entries(for: IndexKey(organization, erased.normalized)).isEmpty, "the erasure moved the entries")
        #expect(decisions.filter(\.allowed).map(\.address.normalized) == [])
        #expect(decisions.map { $0.blockedBy.count } == Array(repeating: 1, count: addresses.count))
    }

    /// An address linked to a contact is read in two steps (its shard, then the contact's). When
    /// it gets its own opt-out between them and the contact's is lifted, it was blocked throughout
    /// and the check must say so, not read the address before and the contact after.
    @Test func aLinkedAddressChangedBetweenItsReadsIsReadAgain() throws {
        let organization = OrganizationID(rawValue: 1)
        let index = SuppressionIndex(erasureKey: try ErasureKey(secret: [UInt8](repeating: 7, count: 32)))
        index.noteListName("default", for: ListID(rawValue: 1))
        func entry(_ sequence: Int64) -> IndexEntry {
            IndexEntry(
                eventSequence: sequence, sinceMilliseconds: 1, list: ListID(rawValue: 1), scope: .organization,
                channel: .only(.email), source: .api, listIsDefault: true)
        }
        let address = IndexKey(organization, "ann@example.com")
        let contact = try ContactID(parsing: "crm-1")
        let contactKey = IndexKey(organization, .contact(contact.externalID))
        index.link(address, to: contact)
        index.add(entry(1), for: contactKey)

        var reads = 0
        var blocks = Decision.Blocks()
        index.appendLinkedBlocks(of: index.digest(address), in: organization, query: CheckQuery(channel: .email), to: &blocks) {
            reads += 1
            guard reads == 1 else { return }
            index.add(entry(2), for: address)
            index.remove(entry(1), for: contactKey)
        }
        #expect(blocks.map(\.eventSequence) == [2])
        #expect(reads == 2, "read again once")
        let query = CheckQuery(channel: .email)
        #expect(index.blocks(for: try Address(parsing: "ann@example.com"), in: organization, query: query).map(\.eventSequence) == [2])
    }
}
