import HushCore

/// Files stored suppression rows into an index from their bytes, as a backend reads them at
/// start: no string is made for a row, its subject is digested straight from the row, its
/// channel, source and scope are matched against the few values they take, and rows are filed
/// thousands at a time. Call `finish()` after the last row.
struct IndexLoader {
    private let index: SuppressionIndex
    private let defaultLists: Set<Int64>
    private var scopes: [(bytes: [UInt8], id: ScopeID)] = [([], ScopeTable.organization)]
    private var lastScope = 0
    /// Rows digested and packed, filed together (`SuppressionIndex.add(_:)`) every `flushEvery`.
    private var pending: [DigestSlot] = []
    private static let flushEvery = 8192

    private static let channels: [(bytes: [UInt8], value: ChannelSelection)] =
        [(Array("all".utf8), .all)] + Channel.allCases.map { (Array($0.rawValue.utf8), .only($0)) }
    private static let sources: [(bytes: [UInt8], value: Source)] = Source.allCases.map { (Array($0.rawValue.utf8), $0) }

    init(index: SuppressionIndex, defaultLists: Set<Int64>) {
        self.index = index
        self.defaultLists = defaultLists
        pending.reserveCapacity(Self.flushEvery)
    }

    /// Files the rows still pending; call it after the last row.
    mutating func finish() {
        index.add(pending)
        pending.removeAll(keepingCapacity: true)
    }

    /// A stored suppression row, its text columns as bytes in place.
    struct Row {
        let organization: Int64
        let subject: UnsafeRawBufferPointer
        let channel: UnsafeRawBufferPointer
        let list: Int64
        let scope: UnsafeRawBufferPointer
        let since: Int64
        let source: UnsafeRawBufferPointer
        let sequence: Int64
        let hold: Bool
    }

    mutating func add(_ row: Row) throws {
        guard let channel = Self.match(row.channel, in: Self.channels) else {
            throw HushError(.storage, "a stored suppression has channel \"\(String(decoding: row.channel, as: UTF8.self))\"")
        }
        guard let source = Self.match(row.source, in: Self.sources) else {
            throw HushError(.storage, "a stored suppression has source \"\(String(decoding: row.source, as: UTF8.self))\"")
        }
        let entry = PackedEntry(
            eventSequence: row.sequence, sinceMilliseconds: row.since, list: ListID(rawValue: row.list), scope: try scopeID(row.scope),
            channel: channel, source: source, listIsDefault: defaultLists.contains(row.list), hold: row.hold)
        pending.append(DigestSlot(digest: index.digestKey.digest(OrganizationID(rawValue: row.organization), row.subject), entry: entry))
        if pending.count == Self.flushEvery { finish() }
    }

    /// Rows come in runs of one scope, and an organization has few: the last one matched is
    /// tried first, then the first 64 seen; others are numbered by the index's table.
    private mutating func scopeID(_ bytes: UnsafeRawBufferPointer) throws -> ScopeID {
        if scopes[lastScope].bytes.elementsEqual(bytes) { return scopes[lastScope].id }
        if let found = scopes.firstIndex(where: { $0.bytes.elementsEqual(bytes) }) {
            lastScope = found
            return scopes[found].id
        }
        let id = index.scopes.id(for: try StoredCoding.scope(String(decoding: bytes, as: UTF8.self)))
        if scopes.count < 64 {
            scopes.append((Array(bytes), id))
            lastScope = scopes.count - 1
        }
        return id
    }

    private static func match<Value>(_ bytes: UnsafeRawBufferPointer, in table: [(bytes: [UInt8], value: Value)]) -> Value? {
        table.first { $0.bytes.elementsEqual(bytes) }?.value
    }
}
