import Foundation
import HushCore
import Logging
import PostgresNIO

/// The rows an opt-out transaction reads and writes on PostgreSQL, set-wise: each helper is one
/// statement, so one round trip, whatever the number of opt-outs.
extension PostgresChangeTransaction {
    func addressRow(_ address: Address) async throws -> Int64 {
        guard let id = try await addressRows([address]).ids[address.normalized] else {
            throw HushError(.storage, "the address row was not written")
        }
        return id
    }

    /// The live row of each address, created when missing: normalized address to row id, and
    /// the rows this statement made (a new row has no links and no suppressions yet).
    func addressRows(_ addresses: [Address]) async throws -> (ids: [String: Int64], made: Set<Int64>) {
        try await Self.addressRows(addresses, in: organization.id, connection, logger: logger)
    }

    /// The address rows of `addresses` in `organization`, made in key order: every writer makes
    /// rows in the same order, so two that make some of the same rows at once wait for each
    /// other without deadlocking (`PreparedAddresses` makes them outside the append lock).
    static func addressRows(
        _ addresses: [Address], in organization: OrganizationID, _ connection: PostgresConnection, logger: Logger
    ) async throws -> (ids: [String: Int64], made: Set<Int64>) {
        var seen = Set<String>()
        let unique = addresses.filter { seen.insert($0.normalized).inserted }.sorted { $0.normalized < $1.normalized }
        guard !unique.isEmpty else { return ([:], []) }
        var ids: [String: Int64] = Dictionary(minimumCapacity: unique.count)
        var made = Set<Int64>()
        var missing = unique
        // A row another transaction made while this statement waited for it is in neither half
        // of the statement (its snapshot predates that commit): the next statement finds it.
        for _ in 0..<3 where !missing.isEmpty {
            let statement = PostgresOptOutStatements.Addresses(
                organization: organization.rawValue, kinds: missing.map(\.kind.rawValue), keys: missing.map(\.normalized),
                displays: missing.map(\.input))
            for try await rows in try await connection.execute(statement, logger: logger) {
                for (id, key) in zip(rows.made, rows.madeKeys) {
                    ids[key] = id
                    made.insert(id)
                }
                for (id, key) in zip(rows.found, rows.foundKeys) { ids[key] = id }
            }
            missing.removeAll { ids[$0.normalized] != nil }
        }
        guard missing.isEmpty else { throw HushError(.storage, "an address row was not written") }
        return (ids, made)
    }

    /// The address rows of `addresses`: those `prepared` made or found before the append lock
    /// when no erasure came since (one would have retired some), else read again now. A row
    /// `prepared` made counts as new unless an event or a link has named it since.
    func addressRows(_ addresses: [Address], prepared: PreparedAddresses?) async throws -> (ids: [String: Int64], made: Set<Int64>) {
        guard let prepared, prepared.at.erasures == from.erasures else { return try await addressRows(addresses) }
        return (prepared.ids, prepared.made.subtracting(try await namedSince(prepared)))
    }

    /// The rows `prepared` made that a ledger event or a contact link has named since it was
    /// made (none when nothing was appended since).
    func namedSince(_ prepared: PreparedAddresses) async throws -> Set<Int64> {
        guard prepared.at != from, let low = prepared.made.min(), let high = prepared.made.max() else { return [] }
        var named = Set<Int64>()
        let statement = PostgresOptOutStatements.Named(since: prepared.at, ids: low...high)
        for try await ids in try await connection.execute(statement, logger: logger) {
            named.formUnion(ids.lazy.filter(prepared.made.contains))
        }
        return named
    }

    /// In one statement: the contacts linked to the existing addresses of plans that reach
    /// linked contacts (in link order), and the suppressions in force among every target's keys
    /// (the addresses', their linked contacts', the contacts'). Rows made in this transaction
    /// have neither, so a set of new addresses costs no round trip.
    func linksAndSuppressions(
        _ plans: [PlannedOptOut], addressIDs: [String: Int64], made: Set<Int64>, contactIDs: [Int: Int64]
    ) async throws -> (linked: [Int64: [(rowID: Int64, externalID: String)]], inForce: [StoredSuppressionKey: Suppression]) {
        var byAddress = PostgresOptOutStatements.KeyColumns()
        var viaLinks = PostgresOptOutStatements.KeyColumns()
        var byContact = PostgresOptOutStatements.KeyColumns()
        var linkedAddresses = Set<Int64>()
        for (offset, plan) in plans.enumerated() {
            switch plan.optOut.subject {
            case .address(let address):
                let id = addressIDs[address.normalized]!
                guard !made.contains(id) else { continue }
                byAddress.append(id, plan)
                if plan.reachesLinkedContacts {
                    viaLinks.append(id, plan)
                    linkedAddresses.insert(id)
                }
            case .contact:
                byContact.append(contactIDs[offset]!, plan)
            }
        }
        var linked: [Int64: [(rowID: Int64, externalID: String)]] = [:]
        var found: [StoredSuppressionKey: Suppression] = [:]
        guard !byAddress.ids.isEmpty || !byContact.ids.isEmpty else { return (linked, found) }
        let statement = PostgresOptOutStatements.LinksAndSuppressions(
            linkedAddresses: Array(linkedAddresses), byAddress: byAddress, viaLinks: viaLinks, byContact: byContact)
        for try await row in try await connection.execute(statement, logger: logger) {
            let (part, _, addressID, contactID, text, channel, list, scope, since, source, sequence, hold) =
                try row.decode((Int32, Int64, Int64?, Int64?, String?, String?, Int64?, String?, Int64?, String?, Int64?, Bool?).self)
            if part == 0 {
                guard let addressID, let contactID, let text else { continue }
                linked[addressID, default: []].append((contactID, text))
                continue
            }
            guard let text, let channel, let list, let scope, let since, let source, let sequence, let hold else { continue }
            let key = try StoredSuppressionKey(
                addressID: addressID, contactID: contactID, channel: StoredCoding.channel(channel),
                list: ListID(rawValue: list), scope: StoredCoding.scope(scope))
            found[key] = try Suppression(
                organization: organization.id, subject: SubjectKey(stored: text), channel: key.channel,
                list: key.list, scope: key.scope, since: StoredCoding.date(since),
                source: StoredCoding.source(source), eventSequence: sequence, hold: hold)
        }
        return (linked, found)
    }

    /// Appends `writes`' ledger events, suppressions and evidence and notifies the other nodes,
    /// in one statement; returns the addresses now over the limit of suppressions in force.
    func append(_ writes: OptOutWrites, made: Set<Int64>) async throws -> [Int64] {
        guard !writes.written.isEmpty else { return [] }
        return try await append(AppendRows(writes, made: made), offset: 0)
    }

    /// Appends rows worked out before (`AppendRows`), their positions moved by `offset`.
    func append(_ rows: AppendRows, offset: Int64) async throws -> [Int64] {
        var over = rows.over
        let statement = PostgresOptOutStatements.Append(
            organization: organization.id.rawValue, now: now, rows: rows.rows, counted: rows.counted, gained: rows.gained,
            limit: Int64(ChangeRules.maximumSuppressionsPerAddress), instance: instance, offset: offset)
        for try await found in try await connection.execute(statement, logger: logger) {
            over += found
        }
        return over
    }
}

/// The columns the append statement writes for a set of opt-outs, and what the limit of
/// suppressions per address needs: an address made in this transaction holds only what was just
/// written, counted here (`over`); the others are counted by the statement (its snapshot
/// predates its own inserts, so it adds what each `gained`).
struct AppendRows {
    var rows: PostgresOptOutStatements.Append.Rows
    var counted: [Int64]
    var gained: [Int64]
    var over: [Int64]

    init(_ writes: OptOutWrites, made: Set<Int64>) throws {
        let written = writes.written
        let limit = ChangeRules.maximumSuppressionsPerAddress
        var gainedBy: [Int64: Int64] = [:]
        rows = PostgresOptOutStatements.Append.Rows(capacity: written.count)
        for (offset, (target, plan, suppression)) in written.enumerated() {
            let projected = writes.isProjected(offset)
            if projected, let id = target.addressID { gainedBy[id, default: 0] += 1 }
            try rows.append(target, plan, sequence: suppression.eventSequence, projected: projected)
        }
        let limited = writes.limitedAddresses
        over = limited.filter { made.contains($0) && gainedBy[$0, default: 0] > limit }.sorted()
        counted = limited.filter { !made.contains($0) }.sorted()
        gained = counted.map { gainedBy[$0, default: 0] }
    }
}
