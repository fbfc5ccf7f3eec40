import HushCore

/// One row of an import's staging, any backend's: a plain opt-out as the rules planned it, in
/// the columns the staging table keeps.
struct StagedRow {
    /// Its position in the whole import, for errors (`items[41999]`) and the ledger's order.
    let item: Int64
    /// The suppression's subject: the normalized address, or `contact:ID`.
    let subjectKey: String
    /// `email` or `phone` for an address; nil for a contact.
    let kind: String?
    /// The normalized address, or the contact's external id.
    let name: String
    /// The address as given.
    let display: String?
    let channel: String
    let list: Int64
    let scope: String
    let source: String
    let actor: String
    let evidence: String?
    /// Whether it counts toward the limit of suppressions per address.
    let counts: Bool

    fileprivate init(_ plan: PlannedOptOut, item: Int) throws {
        let optOut = plan.optOut
        self.item = Int64(item)
        switch optOut.subject {
        case .address(let address):
            subjectKey = address.normalized
            kind = address.kind.rawValue
            name = address.normalized
            display = address.input
        case .contact(let contact):
            subjectKey = SubjectKey.contact(contact.externalID).stored
            kind = nil
            name = contact.externalID
            display = nil
        }
        channel = plan.channel.rawValue
        list = plan.list.id.rawValue
        scope = optOut.scope.path
        source = optOut.source.rawValue
        actor = optOut.actor
        evidence = optOut.evidence.isEmpty ? nil : try StoredCoding.json(optOut.evidence)
        counts = ChangeRules.countsTowardLimit(optOut)
    }
}

/// Plans an import's opt-outs a chunk at a time, before any lock is taken: each through
/// `ChangeRules.plan` with its list's facts (read once per list), numbered across the whole
/// import. Only plain opt-outs are staged, those an import's source makes: none held and none
/// reaching linked contacts, whose effect on what is in force is decided row by row under the
/// lock (`OptOutWrites`); the set-wise commit of staged rows holds for the rest, since a plain
/// opt-out over one in force keeps it (`ChangeRules.write`).
struct ImportPlanner {
    let organization: Organization
    /// The index asked for room for each row's scope (`IndexedStore.requireRoom`).
    private let indexed: IndexedStore
    private var lists: [ListID: ListFacts?] = [:]
    /// The scope the index last made room for: rows come in runs of one scope.
    private var admitted: Scope?
    /// Opt-outs planned so far, repeats included: the import's item count.
    private(set) var items = 0

    init(organization: Organization, indexed: IndexedStore) {
        self.organization = organization
        self.indexed = indexed
    }

    /// Plans every chunk `next` yields and hands its rows to `stage`, which runs while the next
    /// chunk is read and planned: the file's parsing and the staging's inserts share the cores.
    /// Returns once every chunk is staged; an error (of `next`, the rules or `stage`) is thrown
    /// after the chunk being staged is done with, so the caller may then remove the staging.
    mutating func stageAll(
        from next: () throws -> [OptOut]?, facts: (ListID) async throws -> ListFacts?,
        stage: @escaping @Sendable ([StagedRow]) async throws -> Void
    ) async throws {
        var staging: Task<Void, any Error>?
        do {
            while let chunk = try next() {
                let rows = try await rows(chunk, facts: facts)
                try await staging?.value
                staging = Task { try await stage(rows) }
            }
            try await staging?.value
        } catch {
            _ = try? await staging?.value
            throw error
        }
    }

    mutating func rows(_ chunk: [OptOut], facts: (ListID) async throws -> ListFacts?) async throws -> [StagedRow] {
        var rows: [StagedRow] = []
        rows.reserveCapacity(chunk.count)
        for optOut in chunk {
            let list = optOut.list ?? organization.defaultList
            if lists[list] == nil { lists[list] = .some(try await facts(list)) }
            do {
                if optOut.scope != admitted {
                    try indexed.requireRoom(for: CollectionOfOne(optOut))
                    admitted = optOut.scope
                }
                let plan = try ChangeRules.plan(optOut, in: organization, list: lists[list] ?? nil)
                guard !optOut.hold, !plan.reachesLinkedContacts else {
                    throw HushError.invalid("hold", "an import records plain opt-outs: none held, none reaching linked contacts")
                }
                rows.append(try StagedRow(plan, item: items))
            } catch let error as HushError {
                throw error.inItem(items)
            }
            items += 1
        }
        return rows
    }
}

extension LedgerEvent {
    /// The event of a staged row a commit wrote, from the columns it was written with.
    static func staged(
        sequence: Int64, organization: OrganizationID, recordedAt now: Int64, subject: String, channel: String, scope: String,
        list: Int64, source: String, actor: String, evidence: String?
    ) throws -> LedgerEvent {
        LedgerEvent(
            sequence: sequence, organization: organization, kind: .optOut, recordedAt: StoredCoding.date(now),
            subject: SubjectKey(stored: subject), channel: try StoredCoding.channel(channel), scope: try StoredCoding.scope(scope),
            list: ListID(rawValue: list), source: try StoredCoding.source(source), actor: actor,
            evidence: try StoredCoding.evidence(evidence), hold: false)
    }
}
