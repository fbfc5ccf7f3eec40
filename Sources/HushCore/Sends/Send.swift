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

    public var id: Int64
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
        id: Int64 = 0, name: String?, campaign: String?, channel: Channel, scope: Scope, lists: [ListID], counts: Counts = Counts(),
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
    public func writeFields(id: Int64?, to json: inout JSONWriter) {
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

/// A part of a send's stored report: up to `SendReport.chunkSize` entries of one status, each a
/// line of JSON that starts with its position in the send (`{"position":N,…}`).
public struct SendReportChunk: Hashable, Sendable {
    public enum Status: String, Hashable, Sendable, CaseIterable {
        case allowed
        case blocked
        case invalid
    }

    public var status: Status
    public var index: Int
    public var firstPosition: Int
    public var lastPosition: Int
    public var count: Int
    /// The entries, each followed by a newline.
    public var lines: [UInt8]

    public init(status: Status, index: Int, firstPosition: Int, lastPosition: Int, count: Int, lines: [UInt8]) {
        self.status = status
        self.index = index
        self.firstPosition = firstPosition
        self.lastPosition = lastPosition
        self.count = count
        self.lines = lines
    }

    /// The entries as JSON texts, with their positions.
    public var entries: [(position: Int, json: ArraySlice<UInt8>)] {
        lines.split(separator: UInt8(ascii: "\n")).map { line in (Self.position(of: line), line) }
    }

    /// The position at the start of an entry: `{"position":123,`.
    static func position(of line: ArraySlice<UInt8>) -> Int {
        var value = 0
        for byte in line.dropFirst(12) {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}

/// Collects a send's report as it is checked, in chunks of `chunkSize` entries per status.
public struct SendReport: Sendable {
    public static let chunkSize = 10_000

    public private(set) var chunks: [SendReportChunk] = []
    public private(set) var counts = Send.Counts()
    private var open: [SendReportChunk.Status: (writer: JSONWriter, first: Int, last: Int, count: Int, index: Int)] = [:]

    public init() {}

    /// Adds an entry: `write` writes the fields after `{"position":N,` and before `}`.
    public mutating func append(_ status: SendReportChunk.Status, position: Int, _ write: (inout JSONWriter) -> Void) {
        var current = open[status] ?? (JSONWriter(capacity: 64 * 1024), position, position, 0, chunks.lazy.filter { $0.status == status }.count)
        current.writer.raw("{\"position\":")
        current.writer.integer(Int64(position))
        current.writer.raw(",")
        write(&current.writer)
        current.writer.raw("}\n")
        current.last = position
        current.count += 1
        switch status {
        case .allowed: counts.allowed += 1
        case .blocked: counts.blocked += 1
        case .invalid: counts.invalid += 1
        }
        counts.total += 1
        if current.count == Self.chunkSize {
            seal(status, current)
            open[status] = nil
        } else {
            open[status] = current
        }
    }

    /// Seals the open chunks; the report is complete.
    public mutating func finish() {
        for status in SendReportChunk.Status.allCases {
            if let current = open[status] { seal(status, current) }
        }
        open = [:]
    }

    private mutating func seal(_ status: SendReportChunk.Status, _ chunk: (writer: JSONWriter, first: Int, last: Int, count: Int, index: Int)) {
        chunks.append(SendReportChunk(
            status: status, index: chunk.index, firstPosition: chunk.first, lastPosition: chunk.last, count: chunk.count,
            lines: chunk.writer.bytes))
    }
}
