import Foundation
import HushCore

/// How domain values are written to and read from database columns, by every backend: times as
/// unix milliseconds, channels, sources, kinds and scopes by name, evidence as JSON text.
enum StoredCoding {
    static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    static func channel(_ stored: String) throws -> ChannelSelection {
        try ChannelSelection(parsing: stored)
    }

    static func source(_ stored: String) throws -> Source {
        try Source(parsing: stored)
    }

    static func eventKind(_ stored: String) throws -> EventKind {
        guard let kind = EventKind(rawValue: stored) else { throw HushError(.storage, "the ledger holds an event of unknown kind \(stored)") }
        return kind
    }

    static func scope(_ stored: String) throws -> Scope {
        try Scope(parsing: stored)
    }

    static func channels(_ stored: String) throws -> Set<Channel> {
        Set(try stored.split(separator: ",").map { (name) throws(HushError) in try Channel(parsing: String(name)) })
    }

    static func channels(_ channels: Set<Channel>) -> String {
        Channel.allCases.filter(channels.contains).map(\.rawValue).joined(separator: ",")
    }

    static func json(_ evidence: Evidence) throws -> String {
        var json = JSONWriter(capacity: 64)
        JSONValue.write(evidence.fields, to: &json)
        return String(decoding: json.bytes, as: UTF8.self)
    }

    static func evidence(_ json: String?) throws -> Evidence {
        guard let json else { return Evidence() }
        return try JSONDecoder().decode(Evidence.self, from: Data(json.utf8))
    }
}
