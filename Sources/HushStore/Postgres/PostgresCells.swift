import HushCore
import NIOCore
import PostgresNIO

/// A row's cells read in order straight from their bytes, for the few reads that stream
/// millions of rows (the index load): PostgresNIO's generic `decode` costs about a third of a
/// load's time (perf). Results arrive in binary format; a cell of another type than the one
/// asked for is an error, not a guess.
struct PostgresCells {
    private var cells: PostgresRow.Iterator

    init(_ row: PostgresRow) {
        cells = row.makeIterator()
    }

    private mutating func next(_ type: PostgresDataType) throws -> ByteBuffer {
        guard let cell = cells.next() else { throw HushError(.storage, "a row has fewer columns than read") }
        guard cell.dataType == type, cell.format == .binary, let bytes = cell.bytes else {
            throw HushError(.storage, "column \(cell.columnName) is \(cell.dataType) or NULL, not \(type)")
        }
        return bytes
    }

    mutating func int64() throws -> Int64 {
        let bytes = try next(.int8)
        guard bytes.readableBytes == 8, let value = bytes.getInteger(at: bytes.readerIndex, as: Int64.self) else {
            throw HushError(.storage, "a bigint column is not 8 bytes")
        }
        return value
    }

    mutating func string() throws -> String {
        let bytes = try next(.text)
        return bytes.getString(at: bytes.readerIndex, length: bytes.readableBytes) ?? ""
    }

    mutating func bool() throws -> Bool {
        let bytes = try next(.bool)
        guard let value = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else {
            throw HushError(.storage, "a boolean column is empty")
        }
        return value != 0
    }
}
