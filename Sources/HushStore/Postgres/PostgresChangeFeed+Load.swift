import HushCore
import Logging
import NIOCore
import PostgresNIO

extension PostgresChangeFeed {
    /// Loads from one snapshot. The suppressions are read in two halves by id, on two connections
    /// sharing that snapshot (`pg_export_snapshot`), each in chunks of arrays: the server's work to
    /// produce them bounds the load, and two backends do it on two cores.
    func load(into index: SuppressionIndex) async throws -> FeedPosition {
        let logger = self.logger
        let client = self.client
        return try await client.withConnection { connection in
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            // This transaction waits, idle, while the other half loads: it must outlive
            // `idle_in_transaction_session_timeout`, and holds no lock anyone waits for.
            try await connection.query("SET LOCAL idle_in_transaction_session_timeout = 0", logger: logger)
            do {
                var snapshot = ""
                for try await exported in try await connection.query("SELECT pg_export_snapshot()", logger: logger).decode(String.self) {
                    snapshot = exported
                }
                let position = try await Self.head(connection, logger: logger)
                index.replaceListNames(with: try await Self.listNames(connection, logger: logger), readAt: index.listNamesVersion)
                var defaultLists = Set<Int64>()
                for try await id in try await connection.query("SELECT id FROM lists WHERE is_default", logger: logger).decode(Int64.self) {
                    defaultLists.insert(id)
                }
                var (first, last): (Int64, Int64) = (0, 0)
                for try await ids in try await connection.query(
                    "SELECT COALESCE(min(id), 0), COALESCE(max(id), 0) FROM suppressions", logger: logger
                ).decode((Int64, Int64).self) {
                    (first, last) = ids
                }
                let middle = first + (last - first) / 2
                let (exported, lists, end) = (snapshot, defaultLists, last)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await client.withConnection { second in
                            try await Self.inSnapshot(exported, second, logger: logger) {
                                try await Self.loadSuppressions(
                                    into: IndexLoader(index: index, defaultLists: lists), after: middle, through: end, second,
                                    logger: logger)
                            }
                        }
                    }
                    try await Self.loadSuppressions(
                        into: IndexLoader(index: index, defaultLists: defaultLists), after: first - 1, through: middle, connection, logger: logger)
                    try await group.waitForAll()
                }
                let links = try await connection.query("""
                    SELECT c.org_id, a.key, c.external_id
                    FROM contact_links l JOIN contacts c ON c.id = l.contact_id JOIN addresses a ON a.id = l.address_id
                    """, logger: logger)
                for try await (organization, key, contact) in links.decode((Int64, String, String).self) {
                    try index.link(IndexKey(OrganizationID(rawValue: organization), key), to: ContactID(parsing: contact))
                }
                for try await organization in try await connection.query("SELECT DISTINCT org_id FROM erasures", logger: logger).decode(Int64.self) {
                    index.noteErasure(in: OrganizationID(rawValue: organization))
                }
                try await connection.query("COMMIT", logger: logger)
                return position
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// Runs `body` in a read-only transaction that sees the snapshot another transaction exported.
    private static func inSnapshot(
        _ snapshot: String, _ connection: PostgresConnection, logger: Logger, _ body: () async throws -> Void
    ) async throws {
        // An exported snapshot's name is hexadecimal digits and dashes; it is quoted as a literal.
        guard !snapshot.isEmpty, snapshot.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || $0.isHexDigit }) else {
            throw HushError(.storage, "PostgreSQL exported a snapshot named \"\(snapshot)\"")
        }
        try await inRepeatableRead(connection, logger: logger) {
            try await connection.query(PostgresQuery(unsafeSQL: "SET TRANSACTION SNAPSHOT '\(snapshot)'"), logger: logger)
            try await body()
        }
    }

    /// Runs `body` in a read-only repeatable-read transaction: every statement sees one snapshot.
    static func inRepeatableRead<T>(
        _ connection: PostgresConnection, logger: Logger, _ body: () async throws -> T
    ) async throws -> T {
        try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
        do {
            let result = try await body()
            try await connection.query("COMMIT", logger: logger)
            return result
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// Ids per chunk of the load.
    static let loadChunk: Int64 = 50_000

    /// Reads the suppressions with ids in `first + 1 ... last`, `loadChunk` ids at a time. The
    /// server packs each chunk into one row of three values (`PackedSuppressions`): string_agg
    /// over a few expressions costs it about half what array_agg of every column did (37 against
    /// 63 ms a chunk), and one row per chunk spares the client PostgresNIO's work per row (about
    /// 3 µs a row).
    private static func loadSuppressions(
        into loader: consuming IndexLoader, after first: Int64, through last: Int64, _ connection: PostgresConnection, logger: Logger
    ) async throws {
        var after = first
        while after < last {
            let through = min(last, after + Self.loadChunk)
            let rows = try await connection.query("""
                SELECT count(*),
                       string_agg(int8send(org_id) || int8send(list_id) || int8send(since) || int8send(event_seq)
                                  || int4send(octet_length(subject_key)) || boolsend(hold), ''),
                       string_agg(subject_key, ''),
                       string_agg(channel || ' ' || scope || ' ' || source, E'\n')
                FROM suppressions WHERE id > \(after) AND id <= \(through)
                """, logger: logger)
            for try await row in rows {
                var cells = PostgresCells(row)
                let count = try cells.int64()
                guard count > 0 else { continue }
                let packed = try [cells.bytes(.bytea), cells.bytes(.text), cells.bytes(.text)]
                try PostgresCells.withReadableBytes(of: packed[...]) { bytes in
                    let chunk = try PackedSuppressions(numbers: bytes[0], subjects: bytes[1], labels: bytes[2], count: Int(count))
                    try chunk.forEach { try loader.add($0) }
                }
            }
            after = through
        }
        loader.finish()
    }
}

/// A chunk of suppressions as the load's query packs them: `numbers` holds a 37-byte record per
/// row (organization id, list id, since and event sequence, 8 bytes each; the subject key's
/// length, 4 bytes; hold, 1 byte; big-endian), `subjects` the keys back to back, and `labels` a
/// line per row of channel, scope and source separated by spaces (none of them holds a space or a
/// line break; a contact's key may, so keys are counted rather than separated).
struct PackedSuppressions {
    static let recordSize = 37

    private let numbers: UnsafeRawBufferPointer
    private let subjects: UnsafeRawBufferPointer
    private let labels: UnsafeRawBufferPointer
    private let count: Int

    init(numbers: UnsafeRawBufferPointer, subjects: UnsafeRawBufferPointer, labels: UnsafeRawBufferPointer, count: Int) throws {
        guard numbers.count == count * Self.recordSize else {
            throw HushError(.storage, "a chunk of \(count) suppressions came with \(numbers.count) bytes of numbers")
        }
        self.numbers = numbers
        self.subjects = subjects
        self.labels = labels
        self.count = count
    }

    func forEach(_ body: (IndexLoader.Row) throws -> Void) throws {
        func int64(_ at: Int) -> Int64 { Int64(bigEndian: numbers.loadUnaligned(fromByteOffset: at, as: Int64.self)) }
        var subjectStart = 0
        var lineStart = 0
        for index in 0..<count {
            let record = index * Self.recordSize
            let subjectLength = Int(Int32(bigEndian: numbers.loadUnaligned(fromByteOffset: record + 32, as: Int32.self)))
            let lineEnd = labels[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? labels.count
            let line = labels[lineStart..<lineEnd]
            guard subjectLength >= 0, subjectStart + subjectLength <= subjects.count,
                  let firstSpace = line.firstIndex(of: UInt8(ascii: " ")), let lastSpace = line.lastIndex(of: UInt8(ascii: " ")),
                  firstSpace < lastSpace else {
                throw HushError(.storage, "a packed chunk of suppressions is malformed at row \(index)")
            }
            try body(IndexLoader.Row(
                organization: int64(record), subject: UnsafeRawBufferPointer(rebasing: subjects[subjectStart..<(subjectStart + subjectLength)]),
                channel: UnsafeRawBufferPointer(rebasing: labels[lineStart..<firstSpace]), list: int64(record + 8),
                scope: UnsafeRawBufferPointer(rebasing: labels[(firstSpace + 1)..<lastSpace]), since: int64(record + 16),
                source: UnsafeRawBufferPointer(rebasing: labels[(lastSpace + 1)..<lineEnd]), sequence: int64(record + 24),
                hold: numbers[record + 36] != 0))
            subjectStart += subjectLength
            lineStart = lineEnd + 1
        }
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
            || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
    }
}
