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

    /// The next cell's bytes, which must be of `type` and not NULL.
    mutating func bytes(_ type: PostgresDataType) throws -> ByteBuffer {
        guard let cell = cells.next() else { throw HushError(.storage, "a row has fewer columns than read") }
        guard cell.dataType == type, cell.format == .binary, let bytes = cell.bytes else {
            throw HushError(.storage, "column \(cell.columnName) is \(cell.dataType) or NULL, not \(type)")
        }
        return bytes
    }

    mutating func int64() throws -> Int64 {
        let cell = try bytes(.int8)
        guard cell.readableBytes == 8, let value = cell.getInteger(at: cell.readerIndex, as: Int64.self) else {
            throw HushError(.storage, "a bigint column is not 8 bytes")
        }
        return value
    }

    mutating func string() throws -> String {
        let cell = try bytes(.text)
        return cell.getString(at: cell.readerIndex, length: cell.readableBytes) ?? ""
    }

    mutating func bool() throws -> Bool {
        let cell = try bytes(.bool)
        guard let value = cell.getInteger(at: cell.readerIndex, as: UInt8.self) else {
            throw HushError(.storage, "a boolean column is empty")
        }
        return value != 0
    }
}

extension PostgresCells {
    /// Calls `body` with the bytes of every buffer at once.
    static func withReadableBytes<Result>(
        of buffers: ArraySlice<ByteBuffer>, _ collected: [UnsafeRawBufferPointer] = [],
        _ body: ([UnsafeRawBufferPointer]) throws -> Result
    ) rethrows -> Result {
        guard let first = buffers.first else { return try body(collected) }
        return try first.withUnsafeReadableBytes { bytes in
            try withReadableBytes(of: buffers.dropFirst(), collected + [bytes], body)
        }
    }
}
