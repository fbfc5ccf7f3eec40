import Foundation
import HushCore
import Testing
@testable import HushStore

/// The parts of the index's layout: the subject digest, the packed entry and the table.
@Suite struct IndexLayoutTests {
    /// The reference implementation's vectors (veorq/SipHash `vectors.h`, `vectors_sip128`): key
    /// 00…0f, message the bytes 00…(n-1).
    @Test(arguments: [
        (0, "a3817f04ba25a8e66df67214c7550293"),
        (7, "a1f1ebbed8dbc153c0b84aa61ff08239"),
        (8, "3b62a9ba6258f5610f83e264f31497b4"),
        (15, "5493e99933b0a8117e08ec0f97cfc3d9"),
        (63, "5150d1772f50834a503e069a973fbd7c"),
    ])
    func sipHash128MatchesTheReference(length: Int, expected: String) {
        let k0 = UInt64(littleEndian: Array(UInt8(0)..<8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let k1 = UInt64(littleEndian: Array(UInt8(8)..<16).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let message = (0..<length).map { UInt8($0) }
        let (high, low) = message.withUnsafeBytes { SipHash128.hash(k0: k0, k1: k1, prefix: nil, $0) }
        let bytes = withUnsafeBytes(of: low.littleEndian) { Array($0) } + withUnsafeBytes(of: high.littleEndian) { Array($0) }
        #expect(bytes.map { String(format: "%02x", $0) }.joined() == expected)
    }

    @Test func aDigestDependsOnTheOrganizationTheSubjectAndTheKey() {
        let key = DigestKey(k0: 1, k1: 2)
        let ann = key.digest(OrganizationID(rawValue: 1), "ann@example.com")
        #expect(ann == key.digest(OrganizationID(rawValue: 1), "ann@example.com"))
        #expect(ann != key.digest(OrganizationID(rawValue: 2), "ann@example.com"))
        #expect(ann != key.digest(OrganizationID(rawValue: 1), "ann@example.org"))
        #expect(ann != DigestKey(k0: 1, k1: 3).digest(OrganizationID(rawValue: 1), "ann@example.com"))
        #expect(!ann.isEmpty)
    }

    /// A table of 2 MB or more starts on a 2 MB boundary, so that every whole huge page inside it
    /// can be one; its slots read as empty and take writes to the last one.
    @Test(arguments: [8, 10_000, 52_429, 200_000])
    func slotsStartOnAHugePageBoundaryWhenTheyFillOne(capacity: Int) {
        let storage = SlotStorage(capacity: capacity)
        let length = capacity * MemoryLayout<DigestSlot>.stride
        #expect(length < 2 << 20 || Int(bitPattern: storage.slots) % (2 << 20) == 0)
        #expect(storage.slots[capacity - 1].digest.isEmpty)
        storage.slots[capacity - 1] = DigestSlot(digest: SubjectDigest(high: 1, low: 1), entry: .none)
        #expect(storage.slots[capacity - 1].digest == SubjectDigest(high: 1, low: 1))
    }

    @Test func aPackedEntryKeepsEveryField() {
        let scopes = ScopeTable()
        for channel in [ChannelSelection.all] + Channel.allCases.map({ .only($0) }) {
            for source in Source.allCases {
                for (hold, isDefault) in [(false, false), (true, false), (false, true), (true, true)] {
                    let entry = IndexEntry(
                        eventSequence: Int64.max - 7, sinceMilliseconds: 1_790_000_000_123, list: ListID(rawValue: 0xffff_fffe),
                        scope: try! Scope(parsing: "brand/rep-\(hold)"), channel: channel, source: source,
                        listIsDefault: isDefault, hold: hold)
                    let packed = entry.packed(scope: scopes.id(for: entry.scope))
                    #expect(IndexEntry(packed, scope: scopes[packed.scope]) == entry)
                }
            }
        }
        #expect(MemoryLayout<DigestSlot>.stride == 40)
        // Snapshots keep these codes. A new channel or source goes at the end of its table; any
        // other change to them needs a new snapshot version (`IndexSnapshot`).
        #expect(PackedEntry.channels.map(\.rawValue) == ["all", "email", "sms", "whatsapp", "voice"])
        #expect(PackedEntry.sources.map(\.rawValue) == ["api", "link", "one_click", "preference_center", "keyword", "rep", "trigger", "crm", "import"])
        #expect(Set(PackedEntry.channels) == Set([.all] + Channel.allCases.map { .only($0) }))
        #expect(Set(PackedEntry.sources) == Set(Source.allCases))
    }

    /// Which of two entries for one suppression stays does not depend on their order: a held one,
    /// else the earlier event.
    @Test func twoEntriesOfOneSuppressionKeepTheSameOneInEitherOrder() {
        let key = IndexKey(OrganizationID(rawValue: 1), "erased:abc")
        func entry(_ sequence: Int64, hold: Bool) -> IndexEntry {
            IndexEntry(
                eventSequence: sequence, sinceMilliseconds: sequence, list: ListID(rawValue: 1), scope: .organization,
                channel: .only(.email), source: .api, listIsDefault: true, hold: hold)
        }
        for (first, second, kept) in [
            (entry(3, hold: false), entry(7, hold: false), Int64(3)),
            (entry(7, hold: false), entry(3, hold: false), 3),
            (entry(3, hold: false), entry(7, hold: true), 7),
            (entry(7, hold: true), entry(3, hold: false), 7),
        ] {
            let index = SuppressionIndex(erasureKey: .random())
            index.add(first, for: key)
            index.add(second, for: key)
            #expect(index.entries(for: key).map(\.eventSequence) == [kept])
            #expect(index.count == 1)
        }
    }

    /// Random adds and removes against a plain dictionary, in a table small enough that homes
    /// collide and runs wrap around its end, through growth.
    @Test func theTableAgreesWithADictionaryThroughAddsRemovesAndGrowth() {
        var generator = SeededGenerator(seed: 0x5eed)
        let table = DigestTable(capacity: 8)
        var model: [SubjectDigest: [PackedEntry]] = [:]
        let scopes = ScopeTable()
        // 300 subjects whose high words crowd into few homes while the table is small.
        let subjects = (0..<300).map { SubjectDigest(high: UInt64($0 % 40) << 58 | UInt64($0), low: UInt64($0) << 1 | 1) }
        for step in 0..<20_000 {
            let subject = subjects[Int.random(in: 0..<subjects.count, using: &generator)]
            let entry = IndexEntry(
                eventSequence: Int64(step + 1), sinceMilliseconds: 0, list: ListID(rawValue: Int64.random(in: 1...3, using: &generator)),
                scope: .organization, channel: .only(.email), source: .api, listIsDefault: false, hold: false
            ).packed(scope: scopes.id(for: .organization))
            if Bool.random(using: &generator) || model[subject, default: []].isEmpty {
                if table.firstIndex(of: subject, where: { $0.sameSuppression(as: entry) }) == nil {
                    table.insert(subject, entry)
                    model[subject, default: []].append(entry)
                }
            } else {
                let victim = model[subject]!.removeFirst()
                let index = table.firstIndex(of: subject, where: { $0 == victim })
                #expect(index != nil)
                if let index { table.remove(at: index) }
            }
            if step % 997 == 0 || step == 19_999 {
                for subject in subjects {
                    var found: [PackedEntry] = []
                    table.forEach(of: subject) { found.append($0) }
                    #expect(Set(found) == Set(model[subject, default: []]), "subject \(subject.low >> 1) at step \(step)")
                }
            }
        }
        #expect(table.count == model.values.map(\.count).reduce(0, +))
        #expect(table.capacity > 8, "the table grew")
    }

    /// A snapshot's table sizes are checked before anything is computed from them: a damaged one
    /// is an error, and the snapshot is ignored, never a trap that would stop every restart.
    @Test(arguments: [
        (UInt64.max, UInt64(0)), (UInt64(1) << 63, UInt64(8)), (UInt64(16), UInt64.max), (UInt64(1) << 62, UInt64(1) << 62),
        (UInt64(16), UInt64(17)), (UInt64(4), UInt64(0)),
    ])
    func aDamagedTableSizeIsRefused(capacity: UInt64, count: UInt64) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hush-table-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bytes: [UInt8] = []
        for word in [capacity, count] { withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) } }
        bytes.append(contentsOf: [UInt8](repeating: 0, count: 64 * MemoryLayout<DigestSlot>.stride))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let descriptor = open(path, O_RDONLY)
        defer { close(descriptor) }
        var input = SnapshotInput(descriptor: descriptor)
        #expect(throws: HushError.self) { try DigestTable(reading: &input) }
    }
}

/// SplitMix64: the same sequence on every run.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// A batch is answered shard by shard; its decisions must be the ones single checks give, in the
/// order asked, contacts included.
@Suite struct IndexBatchTests {
    @Test func aBatchAnswersAsSingleChecksDoInTheOrderAsked() throws {
        let index = SuppressionIndex(erasureKey: .random(), shardCount: 4)
        let organization = OrganizationID(rawValue: 3)
        let other = OrganizationID(rawValue: 4)
        let team = try Scope(parsing: "team")
        for number in 0..<300 where number % 3 != 0 {
            let entry = IndexEntry(
                eventSequence: Int64(number + 1), sinceMilliseconds: 0, list: ListID(rawValue: Int64(number % 2 + 1)),
                scope: number % 5 == 0 ? team : .organization, channel: number % 7 == 0 ? .all : .only(.email),
                source: .api, listIsDefault: number % 2 == 0, hold: false)
            index.add(entry, for: IndexKey(number % 11 == 0 ? other : organization, "p\(number)@example.com"))
        }
        let contact = try ContactID(parsing: "crm-1")
        index.link(IndexKey(organization, "p300@example.com"), to: contact)
        index.add(IndexEntry(
            eventSequence: 1000, sinceMilliseconds: 0, list: ListID(rawValue: 1), scope: .organization, channel: .all,
            source: .crm, listIsDefault: true, hold: true), for: IndexKey(organization, .contact(contact.externalID)))
        let addresses = try (0...300).reversed().map { try Address(parsing: "p\($0)@example.com") }
        for query in [CheckQuery(channel: .email), CheckQuery(channel: .sms, scope: team, lists: [ListID(rawValue: 2)])] {
            let batch = index.decisions(for: addresses, in: organization, query: query)
            let singles = addresses.map { index.decision(for: $0, in: organization, query: query) }
            #expect(batch.map(\.address.normalized) == addresses.map(\.normalized))
            #expect(batch.map(\.blockedBy) == singles.map(\.blockedBy))
            #expect(batch.contains { !$0.allowed } && batch.contains { $0.allowed })
        }
        #expect(index.decisions(for: addresses, in: organization, query: CheckQuery(channel: .email))[0].blockedBy.map(\.contact) == [contact])
    }
}
