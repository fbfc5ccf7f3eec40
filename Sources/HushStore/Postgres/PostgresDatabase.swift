import Foundation
import HushCore
import Logging
import PostgresNIO

/// The pool, and the transactions the store runs on it.
struct PostgresDatabase: Sendable {
    let client: PostgresClient
    let indexed: IndexedStore
    let logger: Logger
    /// What this store's notifications carry, so that its listener skips them: it applies its
    /// own writes as they commit, and a catch-up started by its own notification would read the
    /// whole write back from the database (a 10 000-address batch: 80 ms of the server's time).
    let instance = UUID().uuidString


    /// Runs `body` on a pooled connection, outside a transaction.
    func read<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await storageErrors { try await client.withConnection { try await body($0) } }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws
    /// (its error passes unchanged, database errors as `storage` or `conflict`).
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let logger = self.logger
        return try await storageErrors {
            try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: logger)
                let value: T
                do {
                    value = try await body(connection)
                } catch {
                    if !connection.isClosed { _ = try? await connection.query("ROLLBACK", logger: logger) }
                    throw error
                }
                // A transaction left idle past `idle_in_transaction_session_timeout` (this node
                // froze) was ended with its connection, and the driver waits for ever for an
                // answer to a statement sent on a closed connection: the write failed instead.
                try connection.requireOpen()
                try await connection.query("COMMIT", logger: logger)
                return value
            }
        }
    }

    /// A transaction that appends to the ledger, contact links or erasures: it holds the append
    /// lock from before it reads the heads until it commits, notifies the other nodes, and
    /// brings this node's index up to date before returning, so every later check sees it.
    ///
    /// `prepare` runs first in the same transaction, before the lock: slow work that appends
    /// nothing (scrubbing an erased address from stored payloads) holds no other node's writes.
    func write<T: Sendable>(
        prepare: ((PostgresConnection) async throws -> Void)? = nil, _ body: (PostgresConnection) async throws -> (T, [IndexChange])
    ) async throws -> T {
        let logger = self.logger
        return try await appendingOwn { connection in
            try await prepare?(connection)
            try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.appendLock))", logger: logger)
            let from = try await PostgresChangeFeed.head(connection, logger: logger)
            let (result, changes) = try await body(connection)
            let position = try await PostgresChangeFeed.head(connection, logger: logger)
            if position != from {
                try await connection.query("SELECT pg_notify(\(PostgresStore.changesChannel), \(instance))", logger: logger)
            }
            return (result, ChangeBatch(changes: changes, position: position), from)
        }
    }

    /// Like `write`, for a body that takes the append lock and reads the heads itself, in a
    /// statement it needs anyway (`PostgresChangeTransaction`'s first), and notifies the other
    /// nodes in its last: two round trips fewer than `write` for every group of opt-outs.
    func append<T: Sendable>(_ body: (PostgresConnection) async throws -> (T, ChangeBatch, from: FeedPosition)) async throws -> T {
        try await appendingOwn(body)
    }

    /// Runs `body` in a transaction that holds the append lock when `body` returns, and applies
    /// what it wrote to this node's index once it commits. The index learns of the write before
    /// the commit (`IndexedStore.willCommit`), so a later write that commits first waits for
    /// this one's batch rather than reading the gap back from the database.
    private func appendingOwn<T: Sendable>(
        _ body: (PostgresConnection) async throws -> (T, ChangeBatch, from: FeedPosition)
    ) async throws -> T {
        let indexed = self.indexed
        var announced: FeedPosition?
        let committed: (T, ChangeBatch, from: FeedPosition)
        do {
            committed = try await transaction { connection in
                let written = try await body(connection)
                indexed.willCommit(from: written.from)
                announced = written.from
                return written
            }
        } catch {
            if let announced { await indexed.abandoned(from: announced) }
            throw error
        }
        try await indexed.applyOwn(committed.1, from: committed.from)
        return committed.0
    }

    /// Like `write`, for a write too large to keep its index changes in memory (an import):
    /// after the commit the index reads what was written from the database, as it reads other
    /// nodes' writes.
    func writeThenCatchUp<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let logger = self.logger
        let result = try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.appendLock))", logger: logger)
            let result = try await body(connection)
            try await connection.query("SELECT pg_notify(\(PostgresStore.changesChannel), \(instance))", logger: logger)
            return result
        }
        try await indexed.catchUp()
        return result
    }

    func storageErrors<T>(_ body: () async throws -> T) async throws -> T {
        try await passingDomainErrors(body) { error in
            switch error {
            case let error as PSQLError: PostgresStore.mapped(error)
            case is CancellationError: CancellationError()
            default: HushError.storageFailure(error)
            }
        }
    }
}
