import Foundation
import GRDB
import HushCore
import PostgresNIO
@testable import HushStore

/// Runs SQL underneath a store, on whichever backend it is (what a test inspects or tampers
/// with): each row's columns as text, NULL as nil.
public func rawSQL(_ text: String, on store: any Store) async throws -> [[String?]] {
    switch store {
    case let sqlite as SQLiteStore:
        return try await sqlite.pool.write { db in
            try Row.fetchAll(db, sql: text).map { row in
                row.databaseValues.map { value -> String? in
                    switch value.storage {
                    case .null: nil
                    case .int64(let number): String(number)
                    case .double(let number): String(number)
                    case .string(let string): string
                    case .blob(let data): String(decoding: data, as: UTF8.self)
                    }
                }
            }
        }
    case let postgres as PostgresStore:
        return try await postgres.client.withConnection { connection in
            var rows: [[String?]] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: text), logger: postgres.logger) {
                rows.append(try row.map { cell -> String? in
                    guard cell.bytes != nil else { return nil }
                    switch cell.dataType {
                    case .int8: return try cell.decode(Int64.self).description
                    case .int4: return try cell.decode(Int32.self).description
                    case .int2: return try cell.decode(Int16.self).description
                    case .bool: return (try cell.decode(Bool.self)) ? "1" : "0"
                    case .float8: return try cell.decode(Double.self).description
                    case .bytea: return String(buffer: try cell.decode(ByteBuffer.self))
                    default: return try cell.decode(String.self)
                    }
                })
            }
            return rows
        }
    default:
        throw HushError(.storage, "no SQL for \(type(of: store))")
    }
}

/// The tables of the store's database.
public func tableNames(on store: any Store) async throws -> [String] {
    let query = store is PostgresStore
        ? "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        : "SELECT name FROM sqlite_master WHERE type = 'table'"
    return try await rawSQL(query, on: store).compactMap { $0.first ?? nil }
}

