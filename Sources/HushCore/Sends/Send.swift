import Foundation

/// A broadcast checked before it went out: who it was for, and who was held back and why.
public struct Send: Hashable, Sendable {
    public static let maximumRecipients = 1_000_000
    public static let maximumNameLength = 200
    public static let maximumReferenceLength = 255

    public struct Counts: Hashable, Sendable {
        public var total = 0
        public var allowed = 0
        public var blocked = 0
        public var invalid = 0

        public init() {}

        public init(total: Int, allowed: Int, blocked: Int, invalid: Int) {
            self.total = total
            self.allowed = allowed
            self.blocked = blocked
            self.invalid = invalid
        }
    }

    public var id: SendID
    public var name: String?
    public var campaign: String?
    public var channel: Channel
    public var scope: Scope
    /// The lists it honours besides `default`.
    public var lists: [ListID]
    public var counts: Counts
    public var actor: String
    public var createdAt: Date

    public init(
        id: SendID = SendID(0), name: String?, campaign: String?, channel: Channel, scope: Scope, lists: [ListID], counts: Counts = Counts(),
        actor: String, createdAt: Date
    ) {
        self.id = id
        self.name = name
        self.campaign = campaign
        self.channel = channel
        self.scope = scope
        self.lists = lists
        self.counts = counts
        self.actor = actor
        self.createdAt = createdAt
    }
}

extension Send {
    /// `"id", "name", "campaign", "channel", "scope", "lists", "actor", "created_at", "counts"`.
    public func writeFields(id: SendID?, to json: inout JSONWriter) {
        json.raw("\"id\":")
        if let id { json.integer(id) } else { json.raw("null") }
        json.raw(",\"name\":")
        json.optionalString(name)
        json.raw(",\"campaign\":")
        json.optionalString(campaign)
        json.raw(",\"channel\":")
        json.string(channel.rawValue)
        json.raw(",\"scope\":")
        json.string(scope.path)
        json.raw(",\"lists\":")
        json.array(lists) { json, list in json.integer(list.rawValue) }
        json.raw(",\"actor\":")
        json.string(actor)
        json.raw(",\"created_at\":")
        json.date(createdAt)
        json.raw(",\"counts\":{\"total\":")
        json.integer(Int64(counts.total))
        json.raw(",\"allowed\":")
        json.integer(Int64(counts.allowed))
        json.raw(",\"blocked\":")
        json.integer(Int64(counts.blocked))
        json.raw(",\"invalid\":")
        json.integer(Int64(counts.invalid))
        json.raw("}")
    }
}

/// A part of a send's stored report: the entries of one status from one batch of recipients,
/// as JSON objects separated by commas (the inside of a JSON array), each starting with its
/// position in the send (`{"position":N,…}`).
public struct SendReportChunk: Hashable, Sendable {
    public enum Status: String, Hashable, Sendable, CaseIterable {
        case allowed
        case blocked
        case invalid
    }

    public var status: Status
    /// The batch the entries came from; chunks of one status in index order are in send order.
    public var index: Int
    public var firstPosition: Int
    public var lastPosition: Int
    public var count: Int
    public var entries: [UInt8]

    public init(status: Status, index: Int, firstPosition: Int, lastPosition: Int, count: Int, entries: [UInt8]) {
        self.status = status
        self.index = index
        self.firstPosition = firstPosition
        self.lastPosition = lastPosition
        self.count = count
        self.entries = entries
    }

    /// Each entry's position and JSON text.
    public var split: [(position: Int, json: ArraySlice<UInt8>)] {
        var result: [(position: Int, json: ArraySlice<UInt8>)] = []
        result.reserveCapacity(count)
        var start = entries.startIndex
        while start < entries.endIndex {
            let end = JSONScanner.valueEnd(entries, from: start) ?? entries.endIndex
            let entry = entries[start..<end]
            result.append((Self.position(of: entry), entry))
            start = end + 1
        }
        return result
    }

    /// The position at the start of an entry: `{"position":123,`.
    static func position(of entry: ArraySlice<UInt8>) -> Int {
        var value = 0
        for byte in entry.dropFirst(12) {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}

/// The report of one batch of a send's recipients, as they are checked: a chunk per status.
public struct SendReportBatch: Sendable {
    /// Recipients per batch: a batch is checked, and its chunks stored, on its own.
    public static let size = 10_000

    public let index: Int
    public private(set) var counts = Send.Counts()
    private var writers: [JSONWriter]
    private var first: [Int]
    private var last: [Int]
    private var count: [Int]

    /// Room for a whole batch of typical entries of each status (allowed, blocked, invalid), so
    /// the writers do not grow by copying; a status's room is taken when its first entry comes.
    static let entryBytes = [96, 288, 128]

    public init(index: Int) {
        self.index = index
        writers = SendReportChunk.Status.allCases.map { _ in JSONWriter(capacity: 0) }
        first = [0, 0, 0]
        last = [0, 0, 0]
        count = [0, 0, 0]
    }

    /// Adds an entry: `write` writes the fields after `{"position":N,` and before `}`.
    public mutating func append(_ status: SendReportChunk.Status, position: Int, _ write: (inout JSONWriter) -> Void) {
        let slot: Int
        switch status {
        case .allowed:
            slot = 0
            counts.allowed += 1
        case .blocked:
            slot = 1
            counts.blocked += 1
        case .invalid:
            slot = 2
            counts.invalid += 1
        }
        counts.total += 1
        if count[slot] == 0 {
            writers[slot].bytes.reserveCapacity(Self.size * Self.entryBytes[slot])
            first[slot] = position
            writers[slot].raw("{\"position\":")
        } else {
            writers[slot].raw(",{\"position\":")
        }
        writers[slot].integer(Int64(position))
        writers[slot].raw(",")
        write(&writers[slot])
        writers[slot].raw("}")
        last[slot] = position
        count[slot] += 1
    }

    /// The batch's chunks, one per status that has entries.
    public var chunks: [SendReportChunk] {
        SendReportChunk.Status.allCases.enumerated().compactMap { slot, status in
            guard count[slot] > 0 else { return nil }
            return SendReportChunk(
                status: status, index: index, firstPosition: first[slot], lastPosition: last[slot], count: count[slot],
                entries: writers[slot].bytes)
        }
    }
}

extension Send.Counts {
    public static func + (left: Send.Counts, right: Send.Counts) -> Send.Counts {
        Send.Counts(
            total: left.total + right.total, allowed: left.allowed + right.allowed, blocked: left.blocked + right.blocked,
            invalid: left.invalid + right.invalid)
    }
}
