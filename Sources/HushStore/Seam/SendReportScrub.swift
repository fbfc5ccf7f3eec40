import HushCore

/// How an erasure finds an address in stored send reports, whose entries are JSON text: as an
/// entry's `address`, or its `input` when the send's channel could not reach it (both written
/// normalized by the send gate). Each member is replaced by the same member naming the hash;
/// SQLite and PostgreSQL run the replacements alike.
enum SendReportScrub {
    /// Pairs of (the member as stored, the member naming the hash).
    static func replacements(of address: Address, hashed: String) -> [(named: String, renamed: String)] {
        var quoted = JSONWriter()
        quoted.string(address.normalized)
        var replacement = JSONWriter()
        replacement.string(hashed)
        let value = String(decoding: quoted.bytes, as: UTF8.self)
        let hash = String(decoding: replacement.bytes, as: UTF8.self)
        return ["address", "input"].map { member in ("\"\(member)\":" + value, "\"\(member)\":" + hash) }
    }
}
