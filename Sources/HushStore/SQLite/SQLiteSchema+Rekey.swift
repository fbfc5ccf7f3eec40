import GRDB
import HushCore

extension SQLiteSchema {
    /// v10: every stored address under the key today's rules give it (#14: phone numbers as
    /// libphonenumber reads them, emails through UTS 46 with case folding), so an opt-out kept
    /// under a misread key (`+4401212345678`) is found by the check that now reads `+441212345678`.
    ///
    /// The ledger is append-only and stays as it was: nothing is recorded and no event changes.
    /// Each live address row gets its new key; when two rows now share a key (`ΝΙΚΟΣ@` and
    /// `νικος@`), one is merged into the other (the row that kept its key, or else the first to
    /// take the key): its suppressions and contact links move (where both had a suppression of the same kind, the held one, else the earlier, stays;
    /// processes that cached contact links re-read them when they start on the new version),
    /// and the row keeps its id and ledger events with the shared key and `merged_into` set, so
    /// reading history or erasing by key finds both. A key neither the old key nor the input as
    /// given can be read as under the new rules stays as it is: an opt-out is never dropped.
    static let v10 = """
        ALTER TABLE addresses ADD COLUMN merged_into INTEGER REFERENCES addresses(id);
        DROP INDEX addresses_live_key;
        CREATE UNIQUE INDEX addresses_live_key ON addresses(org_id, key) WHERE erased_at IS NULL AND merged_into IS NULL;
        CREATE INDEX addresses_key ON addresses(org_id, key);
        """

    /// Re-keys live addresses as ``v10`` describes; returns how many rows got a new key.
    @discardableResult
    static func rekeyAddresses(_ db: Database) throws -> Int {
        var regions: [Int64: Region] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, default_region FROM organizations") {
            if let code: String = row[1] { regions[row[0]] = Region(code: code) }
        }
        struct Change { let id: Int64; let organization: Int64; let oldKey: String; let newKey: String }
        var changes: [Change] = []
        for row in try Row.fetchAll(db, sql: """
            SELECT id, org_id, kind, key, display FROM addresses WHERE erased_at IS NULL AND merged_into IS NULL ORDER BY id
            """) {
            let organization: Int64 = row[1]
            let key: String = row[3]
            guard let newKey = rekeyed(key: key, display: row[4], kind: row[2], region: regions[organization]),
                  newKey != key
            else { continue }
            changes.append(Change(id: row[0], organization: organization, oldKey: key, newKey: newKey))
        }
        // Pending opt-in requests name their address in clear: pick each change's before any moves.
        var requests: [Int64: [Int64]] = [:]
        for change in changes {
            requests[change.id] = try Int64.fetchAll(db, sql: "SELECT id FROM opt_in_requests WHERE org_id = ? AND address = ?",
                                                     arguments: [change.organization, change.oldKey])
        }
        // Out of the way first, so no new key meets an old one that is about to change.
        for change in changes {
            try db.execute(sql: "UPDATE addresses SET key = ? WHERE id = ?", arguments: ["rekey:\(change.id)", change.id])
        }
        for change in changes {
            if let survivor = try Int64.fetchOne(db, sql: """
                SELECT id FROM addresses WHERE org_id = ? AND key = ? AND erased_at IS NULL AND merged_into IS NULL
                """, arguments: [change.organization, change.newKey]) {
                try merge(change.id, into: survivor, key: change.newKey, db)
            } else {
                try db.execute(sql: "UPDATE addresses SET key = ? WHERE id = ?", arguments: [change.newKey, change.id])
                try db.execute(sql: "UPDATE suppressions SET subject_key = ? WHERE address_id = ?",
                               arguments: [change.newKey, change.id])
            }
            for request in requests[change.id] ?? [] {
                try db.execute(sql: "UPDATE opt_in_requests SET address = ? WHERE id = ?", arguments: [change.newKey, request])
            }
        }
        return changes.count
    }

    /// The key under today's rules, or `nil` to leave the row as it is. If the input as it was
    /// given, read with the organization's region, still gives the stored key, the row stays (a
    /// check of that input finds it; reading a key again is not always stable: `00010453` in BG
    /// is `+3590010453`, which read again is `+359010453`). Otherwise the stored key read again
    /// (phone keys carry their `+`), else the input as given; `nil` if neither reads.
    static func rekeyed(key: String, display: String?, kind: String, region: Region?) -> String? {
        func read(_ text: String?, _ region: Region?) -> String? {
            guard let text, let address = try? Address(parsing: text, region: region), address.kind.rawValue == kind
            else { return nil }
            return address.normalized
        }
        let fromDisplay = read(display, region)
        if fromDisplay == key { return nil }
        return read(key, nil) ?? fromDisplay
    }

    private static func merge(_ merged: Int64, into survivor: Int64, key: String, _ db: Database) throws {
        for row in try Row.fetchAll(db, sql: """
            SELECT m.id, s.id, m.hold, s.hold, m.since, s.since FROM suppressions m
            JOIN suppressions s ON s.address_id = ? AND s.channel = m.channel AND s.list_id = m.list_id AND s.scope = m.scope
            WHERE m.address_id = ?
            """, arguments: [survivor, merged]) {
            let (mergedID, survivorID): (Int64, Int64) = (row[0], row[1])
            let (mergedHold, survivorHold): (Bool, Bool) = (row[2], row[3])
            let (mergedSince, survivorSince): (Int64, Int64) = (row[4], row[5])
            let keepMerged = mergedHold != survivorHold ? mergedHold : mergedSince < survivorSince
            try db.execute(sql: "DELETE FROM suppressions WHERE id = ?", arguments: [keepMerged ? survivorID : mergedID])
        }
        try db.execute(sql: "UPDATE suppressions SET address_id = ?, subject_key = ? WHERE address_id = ?",
                       arguments: [survivor, key, merged])
        try db.execute(sql: "UPDATE OR IGNORE contact_links SET address_id = ? WHERE address_id = ?",
                       arguments: [survivor, merged])
        try db.execute(sql: "DELETE FROM contact_links WHERE address_id = ?", arguments: [merged])
        try db.execute(sql: "UPDATE addresses SET key = ?, merged_into = ? WHERE id = ?", arguments: [key, survivor, merged])
    }
}
