import GRDB
import GRDBSQLite

/// Runs one SQL statement over many rows: `head (?, …), (?, …) tail`, up to 500 rows per
/// execution. Values are bound with SQLite's C API: binding through `StatementArguments` boxes
/// every value and costs more than the B-tree work of a bulk insert.
struct BulkStatement {
    static let rowsPerExecution = 500

    let head: String
    let columns: Int
    var tail = ""

    /// Binds each element's row with `bind` and hands every returned row to `row`.
    func run<Element>(
        _ elements: some Collection<Element>, in db: Database,
        bind: (Element, inout BulkBinder) -> Void, row: (BulkRow) throws -> Void = { _ in }
    ) throws {
        var start = elements.startIndex
        while start != elements.endIndex {
            let end = elements.index(start, offsetBy: Self.rowsPerExecution, limitedBy: elements.endIndex) ?? elements.endIndex
            let count = elements.distance(from: start, to: end)
            let placeholders = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
            let sql = head + " " + Array(repeating: placeholders, count: count).joined(separator: ", ") + " " + tail
            // Full chunks and single rows recur; other sizes are prepared for this call only.
            let statement = count == Self.rowsPerExecution || count == 1
                ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
            let handle = statement.sqliteStatement
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
            defer { sqlite3_reset(handle) }
            var binder = BulkBinder(statement: handle)
            for element in elements[start..<end] { bind(element, &binder) }
            while true {
                let code = sqlite3_step(handle)
                if code == SQLITE_DONE { break }
                guard code == SQLITE_ROW else {
                    throw DatabaseError(
                        resultCode: ResultCode(rawValue: code),
                        message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: head)
                }
                try row(BulkRow(statement: handle))
            }
            start = end
        }
    }
}

/// Binds the values of one execution in order.
struct BulkBinder {
    fileprivate let statement: SQLiteStatement
    private var index: Int32 = 1

    fileprivate init(statement: SQLiteStatement) {
        self.statement = statement
    }

    mutating func bind(_ value: Int64) {
        sqlite3_bind_int64(statement, index, value)
        index += 1
    }

    mutating func bind(_ value: Int64?) {
        if let value { sqlite3_bind_int64(statement, index, value) } else { sqlite3_bind_null(statement, index) }
        index += 1
    }

    mutating func bind(_ value: String?) {
        if let value { bind(value) } else {
            sqlite3_bind_null(statement, index)
            index += 1
        }
    }

    mutating func bind(_ value: String) {
        var value = value
        value.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { text in
                if let address = text.baseAddress {
                    _ = sqlite3_bind_text(statement, index, address, Int32(text.count), transient)
                } else {
                    // An empty buffer has no address, and a NULL pointer would bind NULL.
                    _ = sqlite3_bind_text(statement, index, "", 0, transient)
                }
            }
        }
        index += 1
    }
}

/// One returned row, read by column index.
struct BulkRow {
    fileprivate let statement: SQLiteStatement

    func int64(_ column: Int32) -> Int64 {
        sqlite3_column_int64(statement, column)
    }

    func optionalInt64(_ column: Int32) -> Int64? {
        sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : sqlite3_column_int64(statement, column)
    }

    func string(_ column: Int32) -> String {
        guard let text = sqlite3_column_text(statement, column) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(statement, column))), as: UTF8.self)
    }
}

/// SQLite copies a value bound with this destructor before the call returns.
private let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
