import Foundation
import GRDB
import HushCore

/// An import's opt-outs, planned by the rules (`ImportPlanner`) and written to a file of their
/// own beside the database while the database's write lock is free; `ChangeTransaction.recordStaged` then moves
/// them in with one short transaction. The file holds addresses, so it is readable by its owner
/// only, is never fsynced (a crash loses only the staging, and the import with it), and is
/// removed when the import ends, or by the next import when its process was killed. Used by
/// one task at a time (`ImportPlanner.stageAll` awaits each chunk's staging before the next).
final class ImportStaging: @unchecked Sendable {
    /// The schema name the file is attached under by the committing connection.
    static let schema = "staging"

    let path: String
    private var queue: DatabaseQueue?

    init(beside database: String) throws {
        Self.removeAbandoned(beside: database)
        path = database + ".import-\(getpid())-" + UUID().uuidString
        try DatabaseFiles.restrict(path)
        var configuration = GRDB.Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -65536")
        }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        // One row per opt-out that may write: a repeat of a subject, channel, list and scope
        // already staged is an item that writes nothing, as a plain opt-out over one in force.
        try queue.write { db in
            try db.execute(sql: """
                CREATE TABLE staged (
                    item INTEGER PRIMARY KEY,
                    subject_key TEXT NOT NULL,
                    kind TEXT,
                    name TEXT NOT NULL,
                    display TEXT,
                    channel TEXT NOT NULL,
                    list_id INTEGER NOT NULL,
                    scope TEXT NOT NULL,
                    source TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    evidence TEXT,
                    counts INTEGER NOT NULL,
                    address_id INTEGER
                );
                CREATE UNIQUE INDEX staged_key ON staged(subject_key, channel, list_id, scope);
                -- Filled under the lock: the staged rows not in force, with their rows and positions.
                CREATE TABLE written (
                    seq INTEGER PRIMARY KEY,
                    item INTEGER NOT NULL,
                    address_id INTEGER,
                    contact_id INTEGER,
                    subject_key TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    list_id INTEGER NOT NULL,
                    scope TEXT NOT NULL,
                    source TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    evidence TEXT,
                    counts INTEGER NOT NULL
                );
                """)
        }
        self.queue = queue
    }

    /// Stages planned rows (`ImportPlanner`) with the rows of their addresses, made ahead
    /// (`addressIDs`, by key); a row repeating one staged before is left out.
    func stage(_ rows: [StagedRow], addressIDs: [String: Int64]) throws {
        guard let queue else { throw HushError(.storage, "the import's staging is closed") }
        try queue.write { db in
            try BulkStatement(head: """
                INSERT INTO staged (item, subject_key, kind, name, display, channel, list_id, scope, source, actor, evidence, counts, address_id)
                VALUES
                """, columns: 13, tail: "ON CONFLICT (subject_key, channel, list_id, scope) DO NOTHING").run(rows, in: db) { row, values in
                values.bind(row.item)
                values.bind(row.subjectKey)
                values.bind(row.kind)
                values.bind(row.name)
                values.bind(row.display)
                values.bind(row.channel)
                values.bind(row.list)
                values.bind(row.scope)
                values.bind(row.source)
                values.bind(row.actor)
                values.bind(row.evidence)
                values.bind(row.counts ? 1 : 0)
                values.bind(row.kind == nil ? nil : addressIDs[row.name])
            }
        }
    }

    /// Removes the staging files of imports whose process is gone (killed mid-import).
    static func removeAbandoned(beside database: String) {
        let url = URL(fileURLWithPath: database)
        let folder = url.deletingLastPathComponent().path
        let prefix = url.lastPathComponent + ".import-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "-" }) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(atPath: folder + "/" + name)
            }
        }
    }

    /// Closes the staging connection so another can attach the file.
    func close() throws {
        try queue?.close()
        queue = nil
    }

    /// Closes and deletes the file.
    func remove() {
        try? close()
        for file in [path, path + "-journal"] { try? FileManager.default.removeItem(atPath: file) }
    }
}
