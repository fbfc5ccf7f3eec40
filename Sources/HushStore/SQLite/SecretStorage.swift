import Foundation
import GRDB
import HushCore

/// Hush's own secrets are sealed in SQL: `hush_seal(?)` where one is written and
/// `hush_open(column)` where one is read, two functions every connection gets, so the SQL that
/// stores a secret says so and no plaintext secret reaches the file.
struct SecretStorage: Sendable {
    let key: SecretKey

    func register(in db: Database) {
        let key = self.key
        db.add(function: DatabaseFunction("hush_seal", argumentCount: 1, pure: false) { values in
            try Self.map(values[0]) { key.seal($0) }
        })
        db.add(function: DatabaseFunction("hush_open", argumentCount: 1, pure: true) { values in
            try Self.map(values[0]) { bytes in try key.open(bytes) }
        })
    }

    /// Text stays text and blobs stay blobs; NULL stays NULL.
    private static func map(_ value: DatabaseValue, _ transform: ([UInt8]) throws -> [UInt8]) throws -> (any DatabaseValueConvertible)? {
        switch value.storage {
        case .null: return nil
        case .string(let text): return String(decoding: try transform(Array(text.utf8)), as: UTF8.self)
        case .blob(let data): return Data(try transform(Array(data)))
        default: return value
        }
    }

    /// Seals the secrets stored before encryption (a database from an earlier version). Runs
    /// at every open; once everything is sealed it finds nothing.
    static func sealPlaintextRows(_ db: Database) throws {
        let prefix = SecretKey.prefix
        try db.execute(sql: "UPDATE webhook_endpoints SET secrets = hush_seal(secrets) WHERE substr(secrets, 1, 7) != ?", arguments: [prefix])
        try db.execute(sql: """
            UPDATE inbound_settings SET twilio_auth_token = hush_seal(twilio_auth_token)
            WHERE twilio_auth_token IS NOT NULL AND substr(twilio_auth_token, 1, 7) != ?
            """, arguments: [prefix])
        try db.execute(sql: "UPDATE link_keys SET secret = hush_seal(secret) WHERE substr(secret, 1, 7) != CAST(? AS BLOB)", arguments: [prefix])
    }
}

/// The database file and its `-wal` and `-shm` companions are readable by their owner only.
enum DatabaseFiles {
    static func restrict(_ path: String) throws {
        let manager = FileManager.default
        if !manager.fileExists(atPath: path) {
            guard manager.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw HushError(.storage, "could not create the database at \(path)")
            }
        }
        for file in [path, path + "-wal", path + "-shm"] where manager.fileExists(atPath: file) {
            try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
    }
}
