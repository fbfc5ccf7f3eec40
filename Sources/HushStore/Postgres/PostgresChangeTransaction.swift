import Foundation
import HushCore
import Logging
import PostgresNIO

/// One write transaction's worth of opt-outs and opt-ins on PostgreSQL: the rules are
/// `ChangeRules`'; this appends ledger events, updates the projection and collects what the
/// index must apply, set-wise (`UNNEST` arrays: one statement per table per batch). Positions
/// are taken from the ledger head once, which is safe because the transaction holds the append
/// lock from before it reads the head until it commits: its first statement takes it
/// (`hush_append_lock()`), whether or not the caller (`PostgresDatabase.write`) took it already.
struct PostgresChangeTransaction {
    let connection: PostgresConnection
    let logger: Logger
    let organization: Organization
    let now: Int64
    /// The heads when this transaction took the append lock.
    let from: FeedPosition
    var nextSequence: Int64
    var knownLists: [ListID: ListFacts?] = [:]
    /// What the notification of an append carries (`PostgresDatabase.instance`).
    let instance: String
    var outbox: PostgresOutbox
    var changes: [IndexChange] = []
    /// Whether this transaction plans each statement for its parameters (see `record`).
    private var plannedForSize = false
    /// More opt-outs than this in one set are planned for their size.
    static let largeSet = 256

    /// Takes the append lock (again, when the caller holds it: it is the transaction's till
    /// commit either way), then reads the heads, the organization, the facts of `lists` and
    /// whether any webhook endpoint listens: one round trip, since every statement is one.
    init(
        _ connection: PostgresConnection, logger: Logger, organization: OrganizationID, now: Int64, lists: Set<ListID> = [],
        notifying instance: String = ""
    ) async throws {
        self.instance = instance
        self.connection = connection
        self.logger = logger
        self.now = now
        let statement = PostgresOptOutStatements.Prologue(organization: organization.rawValue, lists: lists.map(\.rawValue))
        var first: PostgresRow?
        for try await row in try await connection.execute(statement, logger: logger) where first == nil { first = row }
        guard let row = first else { throw HushError(.storage, "the ledger's heads were not read") }
        let heads = try row.decode((Int64, Int64, Int64).self)
        from = FeedPosition(ledger: heads.0, links: heads.1, erasures: heads.2)
        nextSequence = heads.0 + 1
        let columns = Array(row)
        guard columns[3].bytes != nil else { throw HushError(.notFound, field: "organization", "no such organization") }
        let (id, name, granular, region, brandName, logoURL, color, defaultList) = try (
            columns[3].decode(Int64.self), columns[4].decode(String.self), columns[5].decode(Bool.self),
            columns[6].decode(String?.self), columns[7].decode(String?.self), columns[8].decode(String?.self),
            columns[9].decode(String?.self), columns[10].decode(Int64.self))
        self.organization = Organization(
            id: OrganizationID(rawValue: id), name: name,
            settings: OrganizationSettings(
                granularOptOuts: granular, defaultRegion: region.flatMap(Region.init(code:)),
                branding: Branding(displayName: brandName, logoURL: logoURL, color: color)),
            defaultList: ListID(rawValue: defaultList))
        let listening = try columns[11].decode(Bool.self)
        self.outbox = PostgresOutbox(
            connection, logger: logger, organization: organization, now: StoredCoding.date(now), listening: listening ? nil : false)
        let (ids, defaults, names, channels) = try (
            columns[12].decode([Int64].self), columns[13].decode([Bool].self), columns[14].decode([String].self),
            columns[15].decode([String].self))
        for list in lists { knownLists[list] = .some(nil) }
        for (offset, id) in ids.enumerated() {
            let facts = ListFacts(
                id: ListID(rawValue: id), isDefault: defaults[offset], name: names[offset],
                channels: try StoredCoding.channels(channels[offset]))
            knownLists[facts.id] = facts
            changes.append(.name(facts.id, facts.name))
        }
    }

    /// Where the feed stands once this transaction commits: its ledger events follow `from`.
    var position: FeedPosition {
        FeedPosition(ledger: nextSequence - 1, links: from.links, erasures: from.erasures)
    }

    /// One group of opt-out requests in one transaction (see `GroupCommit`). The requests of
    /// one organization are written together, set-wise: one statement per step for the whole
    /// group, not per request, since every statement is a round trip to the server. A request
    /// the rules refuse fails alone (`GroupCommit.RequestFailed`), with the error it would have
    /// had on its own. Returns the outcomes, and the feed's batch and where it started.
    static func commit(
        _ group: [GroupCommit.Work], _ connection: PostgresConnection, logger: Logger, now: Int64, notifying instance: String,
        prepared: PreparedAddresses? = nil, ahead: WrittenAhead? = nil
    ) async throws -> ([[OptOutOutcome]], ChangeBatch, from: FeedPosition) {
        var outcomes = [[OptOutOutcome]](repeating: [], count: group.count)
        var changes: [IndexChange] = []
        var organizations: [OrganizationID] = []
        var offsetsOf: [OrganizationID: [Int]] = [:]
        for (offset, work) in group.enumerated() {
            if offsetsOf[work.organization] == nil { organizations.append(work.organization) }
            offsetsOf[work.organization, default: []].append(offset)
        }
        var from: FeedPosition?
        var position = FeedPosition.start
        for organization in organizations {
            let offsets = offsetsOf[organization]!
            do {
                let lists = Set(offsets.flatMap { group[$0].optOuts.compactMap(\.list) })
                var transaction = try await PostgresChangeTransaction(
                    connection, logger: logger, organization: organization, now: now, lists: lists, notifying: instance)
                if from == nil { from = transaction.from }
                let written = if let ahead, let prepared, let outcomes = try await transaction.record(ahead, prepared: prepared) {
                    [outcomes]
                } else {
                    try await transaction.record(requests: offsets.map { group[$0].optOuts }, prepared: prepared)
                }
                for (offset, outcome) in zip(offsets, written) { outcomes[offset] = outcome }
                changes += transaction.changes
                position = transaction.position
            } catch let failure as RequestFailure {
                throw GroupCommit.RequestFailed(offset: offsets[failure.request], error: failure.error)
            } catch let error as HushError where error.code != .storage {
                throw GroupCommit.RequestFailed(offset: offsets[0], error: error)
            }
        }
        return (outcomes, ChangeBatch(changes: changes, position: position), from ?? position)
    }

    /// Several requests of a group pass the limit of one address only together. No request is
    /// named, so `GroupCommit` writes each alone.
    struct SharedLimit: Error {}

    /// Request `request` of a group was refused by the rules.
    struct RequestFailure: Error {
        let request: Int
        let error: HushError
    }

    /// Records opt-outs set-wise. A batch's error names its item (`items[3].channel`);
    /// `firstItem` numbers the items when they are part of a larger whole (an import).
    mutating func record(_ optOuts: [OptOut], firstItem: Int? = nil) async throws -> [OptOutOutcome] {
        do {
            return try await record(requests: [optOuts], firstItem: firstItem)[0]
        } catch let failure as RequestFailure {
            throw failure.error
        }
    }

    /// Records several requests' opt-outs as one set: each request's outcomes, in order. An
    /// error names its request and, within it, its item as that request alone would have.
    ///
    /// Round trips: the address rows (made when missing), the links and suppressions in force
    /// of the rows that existed before (skipped when every address is new), then one statement
    /// that appends the events, suppressions and evidence, notifies the other nodes and counts
    /// against the limit.
    mutating func record(
        requests: [[OptOut]], firstItem: Int? = nil, prepared: PreparedAddresses? = nil
    ) async throws -> [[OptOutOutcome]] {
        let itemized = requests.map { $0.count > 1 || firstItem != nil }
        var plans: [PlannedOptOut] = []
        var requestOfPlan: [Int] = []
        var itemOfPlan: [Int] = []
        plans.reserveCapacity(requests.reduce(0) { $0 + $1.count })
        for (request, optOuts) in requests.enumerated() {
            for (offset, optOut) in optOuts.enumerated() {
                do {
                    let list = try await listFacts(optOut.list ?? organization.defaultList)
                    plans.append(try ChangeRules.plan(optOut, in: organization, list: list))
                    requestOfPlan.append(request)
                    itemOfPlan.append(offset)
                } catch let error as HushError {
                    throw RequestFailure(request: request, error: itemized[request] ? error.inItem((firstItem ?? 0) + offset) : error)
                }
            }
        }
        if plans.count > Self.largeSet && !plannedForSize {
            // A large set is planned for its own size. The prepared statements' cached generic
            // plan knows neither a set's size nor how far the tables have grown inside this
            // transaction (an import), and one cached while a table was small went quadratic
            // in a 100 000-row import.
            try await connection.query("SET LOCAL plan_cache_mode = force_custom_plan", logger: logger)
            plannedForSize = true
        }
        let (addressIDs, made) = try await addressRows(plans.compactMap { plan in
            if case .address(let address) = plan.optOut.subject { address } else { nil }
        }, prepared: prepared)
        var contactIDs: [Int: Int64] = [:]
        for (offset, plan) in plans.enumerated() {
            if case .contact(let contact) = plan.optOut.subject {
                contactIDs[offset] = try await PostgresStore.contactRow(connection, contact, in: organization.id, now: now, logger: logger)
            }
        }
        let (linked, inForce) = try await linksAndSuppressions(plans, addressIDs: addressIDs, made: made, contactIDs: contactIDs)

        var targetsOfPlan: [[StoredTarget]] = []
        targetsOfPlan.reserveCapacity(plans.count)
        for (offset, plan) in plans.enumerated() {
            switch plan.optOut.subject {
            case .address(let address):
                let addressID = addressIDs[address.normalized]!
                var targets = [StoredTarget(addressID: addressID, contactID: nil, key: address.normalized)]
                if plan.reachesLinkedContacts {
                    targets += (linked[addressID] ?? []).map {
                        StoredTarget(addressID: nil, contactID: $0.rowID, key: SubjectKey.contact($0.externalID).stored, viaAddressID: addressID)
                    }
                }
                targetsOfPlan.append(targets)
            case .contact(let contact):
                targetsOfPlan.append([StoredTarget(addressID: nil, contactID: contactIDs[offset]!, key: SubjectKey.contact(contact.externalID).stored)])
            }
        }
        let writes = OptOutWrites(
            plans, targets: targetsOfPlan, inForce: inForce, organization: organization.id, now: StoredCoding.date(now),
            firstSequence: nextSequence)
        nextSequence = writes.nextSequence
        changes += writes.changes
        // The requests' outcomes, in order: as many as each request had items.
        var outcomesOfRequests = [[OptOutOutcome]](repeating: [], count: requests.count)
        for (request, outcome) in zip(requestOfPlan, writes.outcomes) { outcomesOfRequests[request].append(outcome) }

        for key in writes.replaced {
            try await connection.rows("""
                DELETE FROM suppressions
                WHERE (address_id = \(key.addressID) OR contact_id = \(key.contactID)) AND channel = \(key.channel.rawValue)
                  AND list_id = \(key.list.rawValue) AND scope = \(key.scope.path)
                """, logger: logger)
        }
        if let full = try await append(writes, made: made).first {
            let writers = plans.indices.filter { offset in
                if case .address(let address) = plans[offset].optOut.subject { addressIDs[address.normalized] == full } else { false }
            }
            // Requests that pass the limit only together: which is refused depends on their
            // order, so each is written alone, in order, as SQLite writes them.
            if Set(writers.map { requestOfPlan[$0] }).count > 1 { throw SharedLimit() }
            let first = writers.first ?? 0
            let error = ChangeRules.overLimit()
            let request = requestOfPlan[first]
            throw RequestFailure(request: request, error: itemized[request] ? error.inItem((firstItem ?? 0) + itemOfPlan[first]) : error)
        }
        if try await outbox.isListening() {
            try await announce(writes.outcomes.flatMap(\.events), addressIDs: writes.written.map(\.target.erasedWith))
        }
        return outcomesOfRequests
    }

    /// Puts the events in the webhook outbox, in this transaction. `given` names the address in
    /// clear when the event's subject is an erased one's hash.
    mutating func announce(_ events: [LedgerEvent], addressIDs: [Int64?], address given: String? = nil) async throws {
        guard !events.isEmpty, try await outbox.isListening() else { return }
        let announced = events.map { event in
            let address: String? = if case .address(let key) = event.subject { given ?? key } else { nil }
            return WebhookEvent(event, address: address, listName: knownLists[event.list]??.name ?? "")
        }
        try await outbox.enqueue(announced, addressIDs: addressIDs, now: now)
    }

    mutating func record(_ optIn: OptIn, erasureKey: ErasureKey) async throws -> OptInOutcome {
        let list = optIn.list ?? organization.defaultList
        let isDefault = try ChangeRules.check(list, await listFacts(list), covers: optIn.channel).isDefault
        var targets: [StoredTarget] = []
        switch optIn.subject {
        case .address(let address):
            // The live address, and its erased hash: a person who was erased can still come back.
            let hashed = erasureKey.hashedKey(for: address.normalized)
            for try await (id, key) in try await connection.query("""
                SELECT id, key FROM addresses
                WHERE org_id = \(organization.id.rawValue)
                  AND ((key = \(address.normalized) AND erased_at IS NULL AND merged_into IS NULL)
                       OR (key = \(address.normalized) AND erased_at IS NULL AND merged_into IS NOT NULL)
                       OR (key = \(hashed) AND erased_at IS NOT NULL))
                """, logger: logger).decode((Int64, String).self) {
                targets.append(StoredTarget(addressID: id, contactID: nil, key: key))
            }
        case .contact(let contact):
            if let id = try await connection.value("""
                SELECT id FROM contacts WHERE org_id = \(organization.id.rawValue) AND external_id = \(contact.externalID)
                """, as: Int64.self, logger: logger) {
                targets = [StoredTarget(addressID: nil, contactID: id, key: SubjectKey.contact(contact.externalID).stored)]
            }
        }
        for target in targets {
            let rows = try await connection.rows("""
                SELECT id, since, source, event_seq, hold FROM suppressions
                WHERE (address_id = \(target.addressID) OR contact_id = \(target.contactID)) AND channel = \(optIn.channel.rawValue)
                  AND list_id = \(list.rawValue) AND scope = \(optIn.scope.path)
                """, logger: logger)
            guard let row = rows.first else { continue }
            let (rowID, since, source, sequence, hold) = try row.decode((Int64, Int64, String, Int64, Bool).self)
            let suppression = try Suppression(
                organization: organization.id, subject: target.subject, channel: optIn.channel, list: list,
                scope: optIn.scope, since: StoredCoding.date(since), source: StoredCoding.source(source),
                eventSequence: sequence, hold: hold)
            // The one place that decides who lifts what (DESIGN rule 2).
            guard ChangeRules.lifts(optIn, suppression) else { continue }
            try await connection.rows("DELETE FROM suppressions WHERE id = \(rowID)", logger: logger)
            let eventSequence = nextSequence
            nextSequence += 1
            let event = try await appendEvent(
                .optIn, sequence: eventSequence, target: target, channel: optIn.channel, scope: optIn.scope, list: list,
                source: optIn.source, actor: optIn.actor, evidence: optIn.evidence, hold: suppression.hold)
            changes.append(.remove(IndexKey(organization.id, target.key), IndexEntry(suppression, listIsDefault: isDefault)))
            let given: String? = if case .address(let address) = optIn.subject { address.normalized } else { nil }
            try await announce([event], addressIDs: [target.addressID], address: given)
            return OptInOutcome(lifted: suppression, event: event)
        }
        return OptInOutcome(lifted: nil, event: nil)
    }

    // MARK: Rows

    
    /// What the rules need of a list: nil when it is not an active list of this organization.
    mutating func listFacts(_ list: ListID) async throws -> ListFacts? {
        if let known = knownLists[list] { return known }
        let rows = try await connection.rows("""
            SELECT is_default, name, channels FROM lists WHERE id = \(list.rawValue) AND org_id = \(organization.id.rawValue) AND deleted_at IS NULL
            """, logger: logger)
        let facts = try rows.first.map { row in
            let (isDefault, name, channels) = try row.decode((Bool, String, String).self)
            return ListFacts(id: list, isDefault: isDefault, name: name, channels: try StoredCoding.channels(channels))
        }
        knownLists[list] = facts
        if let facts { changes.append(.name(list, facts.name)) }
        return facts
    }

    private func appendEvent(
        _ kind: EventKind, sequence: Int64, target: StoredTarget, channel: ChannelSelection, scope: Scope, list: ListID,
        source: Source, actor: String, evidence: Evidence, hold: Bool
    ) async throws -> LedgerEvent {
        try await connection.rows("""
            INSERT INTO ledger (seq, org_id, kind, recorded_at, address_id, contact_id, channel, scope, list_id, source, actor, hold)
            VALUES (\(sequence), \(organization.id.rawValue), \(kind.rawValue), \(now), \(target.addressID), \(target.contactID),
                    \(channel.rawValue), \(scope.path), \(list.rawValue), \(source.rawValue), \(actor), \(hold))
            """, logger: logger)
        if !evidence.isEmpty {
            try await connection.rows("INSERT INTO evidence (event_seq, json) VALUES (\(sequence), \(try StoredCoding.json(evidence)))", logger: logger)
        }
        return LedgerEvent(
            sequence: sequence, organization: organization.id, kind: kind, recordedAt: StoredCoding.date(now),
            subject: target.subject, channel: channel, scope: scope, list: list, source: source, actor: actor,
            evidence: evidence, hold: hold)
    }
}

