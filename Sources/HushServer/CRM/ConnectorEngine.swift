import Foundation
import HushCore
import HushStore
import Logging

/// Runs one connector once: reads what changed in the CRM (records opt-outs, files unchecks for
/// review, links addresses), marks pushes due from the ledger events since the push cursor, and
/// writes what is due. The rules are `CRMRules`'; this applies them. A dry run reads and works
/// everything out, and changes nothing in Hush or the CRM.
struct ConnectorEngine: Sendable {
    typealias Storage = any AccessStore & Directory & Ledger & SuppressionChecks & ConnectorStore & ConnectorRecords
    let store: Storage
    let now: @Sendable () -> Date
    let metrics: ServerMetrics?
    let logger: Logger

    /// Pushes worked on at once.
    static let pushBatch = 200
    /// Ledger events read at once when marking pushes due.
    static let eventBatch = 1_000

    /// What a run did, or would do in a dry run.
    struct Report: Sendable, Encodable {
        var read = 0
        var deleted = 0
        var linked = 0
        var skipped = 0
        var optOuts = 0
        var unchecks = 0
        var echoes = 0
        var pushesDue = 0
        var written = 0
        var writeFailures = 0
        var stale = 0
        var invalidAddresses = 0
        var resynced: [String] = []
        /// In a dry run: what would be recorded, written and reviewed.
        var wouldRecord: [String] = []
        var wouldWrite: [String] = []
        var wouldReview: [String] = []
        /// How the connector stands after the run: `ok`, `throttled`, `auth_failed`, `error`.
        var state = ConnectorState.Health.ok
        /// What stopped the run, the vendor's code verbatim.
        @NullEncoded var error: ConnectorState.LastError? = nil

        enum CodingKeys: String, CodingKey {
            case state, error
            case read, deleted, linked, skipped, echoes, stale, resynced, written
            case optOuts = "opt_outs"
            case unchecks
            case pushesDue = "pushes_due"
            case writeFailures = "write_failures"
            case invalidAddresses = "invalid_addresses"
            case wouldRecord = "would_record"
            case wouldWrite = "would_write"
            case wouldReview = "would_review"
        }
    }

    /// One run. `full` reads every record again (a resync) rather than what changed.
    /// A push-only run writes what the ledger made due without reading the CRM.
    func run(
        _ connector: Connector, client: any CRMClient, dryRun: Bool = false, full: Bool = false, pushOnly: Bool = false, leaseOwner: String? = nil
    ) async throws -> Report {
        var run = Run(engine: self, connector: connector, client: client, dryRun: dryRun, leaseOwner: leaseOwner)
        try await run.start(full: full, pushOnly: pushOnly)
        return run.report
    }

    /// When a failed push is tried again: 30 s, doubling, at most an hour.
    static func backoff(_ attempts: Int) -> TimeInterval {
        min(3_600, 30 * pow(2, Double(max(0, attempts - 1))))
    }
}

extension ConnectorEngine {
    /// The state of one run.
    struct Run {
        let engine: ConnectorEngine
        let connector: Connector
        let client: any CRMClient
        let dryRun: Bool
        var report = Report()
        var state = ConnectorState()
        var organization: Organization!
        var log: [ConnectorLogEntry] = []
        /// Records whose write found them changed once this run: a second time waits for backoff.
        var staleOnce = Set<CRMRecordKey>()
        /// The lease the run's saves need (nil in a dry run, which saves nothing).
        let leaseOwner: String?
        /// Records a dry run listed as written.
        var listed = Set<CRMRecordKey>()
        /// In a dry run, the opt-outs it would record (by contact), counted as in force when it
        /// works out what it would write: the real run writes after recording them.
        var wouldOptOut: [ContactID: [Channel]] = [:]
        /// The same, by the addresses of those contacts' records: other records carrying one
        /// (a lead with the contact's email) are written too.
        var wouldOptOutAddresses: [String: [Channel]] = [:]
        /// In a dry run, every record it read, as the real run would have saved it: a record on
        /// an earlier page carrying an address opted out later is written by the real run too.
        var wouldSave: [CRMRecordKey: CRMRecord] = [:]

        var store: Storage { engine.store }
        var now: Date { engine.now() }

        init(engine: ConnectorEngine, connector: Connector, client: any CRMClient, dryRun: Bool, leaseOwner: String?) {
            self.leaseOwner = leaseOwner
            self.engine = engine
            self.connector = connector
            self.client = client
            self.dryRun = dryRun
        }

        mutating func start(full: Bool, pushOnly: Bool) async throws {
            state = try await store.connectorState(connector.id)
            let before = state.health
            if !pushOnly { state.lastRunAt = now }
            guard let organization = try await store.organization(connector.organization) else {
                throw HushError(.notFound, "the connector's organization is gone")
            }
            self.organization = organization
            let startedAt = await store.appliedSequence()
            do {
                if state.integrationUser == nil { state.integrationUser = try await client.integrationUser() }
                let full = full || !state.firstSyncDone
                for entity in connector.entities where !pushOnly {
                    try await readChanges(of: entity, full: full)
                }
                if full { state.pushCursor = max(state.pushCursor, startedAt) }
                if !dryRun { state.firstSyncDone = true }
                try await markPushesDue()
                try await pushDue()
                state.health = .ok
                if !pushOnly { state.lastSuccessAt = now }
                state.lastError = nil
                state.retryAt = nil
            } catch let failure as CRMFailure {
                state.health = switch failure {
                case .throttled: .throttled
                case .authFailed: .authFailed
                default: .error
                }
                state.lastError = ConnectorState.LastError(code: failure.code, message: failure.message, at: now)
                if case .throttled(let retryAfter, _, _) = failure {
                    // Salesforce sends no Retry-After: a minute, then the next poll.
                    state.retryAt = now.addingTimeInterval((retryAfter ?? .seconds(60)).seconds)
                }
                log.append(ConnectorLogEntry(at: now, kind: failure.isThrottle ? .throttle : .error, message: "\(failure.code): \(failure.message)"))
                engine.logger.warning("CRM connector run failed", metadata: [
                    "connector": "\(connector.id)", "code": "\(failure.code)", "error": "\(failure.message)",
                ])
            }
            if let usage = await client.apiUsage() { state.apiUsage = usage }
            report.state = state.health
            report.error = state.health == .ok ? nil : state.lastError
            guard !dryRun else { return }
            var sync = ConnectorSync(state: state, log: log, leaseOwner: leaseOwner)
            if before == .ok, state.health != .ok {
                sync.announcements = [WebhookEvent(failed: connector, state: state, at: now)]
            }
            _ = try await store.saveSync(sync, of: connector)
            log = []
        }

        // MARK: Reading in

        mutating func readChanges(of entity: String, full: Bool) async throws {
            var position = full ? nil : state.readPositions[entity]
            var page: String?
            var first = true
            while true {
                let read: CRMPage
                do {
                    read = try await client.read(entity: entity, fields: connector.selectedFields, after: position, page: page)
                } catch CRMFailure.expiredPosition where first && position != nil {
                    // Change tracking forgot the position: read every record again. What was
                    // already known compares equal and records nothing twice.
                    report.resynced.append(entity)
                    log.append(ConnectorLogEntry(at: now, kind: .resync, message: "\(entity): the delta token expired; reading every record"))
                    position = nil
                    continue
                }
                first = false
                try await take(read.rows, resync: full || position == nil)
                if let next = read.next {
                    page = next
                } else {
                    if let position = read.position { state.readPositions[entity] = position }
                    return
                }
            }
        }

        /// What one page of rows means: addresses linked, opt-outs recorded, unchecks filed,
        /// records saved, each step for the whole page at once. Links and opt-outs go before the
        /// records are saved, so a run that dies between them reads the change again and
        /// records nothing twice.
        mutating func take(_ rows: [CRMRow], resync: Bool) async throws {
            guard !rows.isEmpty else { return }
            let known = Dictionary(
                try await store.crmRecords(of: connector.id, keys: rows.map(\.key)).map { ($0.key, $0) }, uniquingKeysWith: { $1 })
            // A page may name a record twice (deleted, then created again): the last word counts.
            var saved: [CRMRecordKey: CRMRecord] = [:]
            var order: [CRMRecordKey] = []
            var links: [ContactLinks] = []
            var optOuts: [OptOut] = []
            var reviews: [CRMReview] = []
            // Records whose fields Hush may have to write: worked out once the page's links and
            // opt-outs are in the index, and marked due only when something differs.
            var candidates: [CRMRecordKey] = []
            // In a dry run, the opt-outs it would record on this page, by contact and by address:
            // in force once the page is read, as the real run records them after its rows.
            var pageContacts: [ContactID: [Channel]] = [:]
            var pageAddresses: [String: [Channel]] = [:]
            let mapped = Set(connector.fields.map(\.field))
            for row in rows {
                report.read += 1
                if saved[row.key] == nil { order.append(row.key) }
                if row.deleted {
                    // A deleted record is never pushed to again; its contact keeps its links and
                    // suppressions (unlinking would opt its addresses back in).
                    guard var record = saved[row.key] ?? known[row.key], !record.deleted else { continue }
                    record.deleted = true
                    record.pushDueAt = nil
                    saved[row.key] = record
                    report.deleted += 1
                    continue
                }
                var record = saved[row.key] ?? known[row.key] ?? CRMRecord(key: row.key, version: nil, fields: [:], addresses: [], linked: false)
                let seen = record.version != nil && !record.deleted
                record.deleted = false
                let values = row.booleans.filter { mapped.contains($0.key) }
                let addresses = addresses(of: row)
                let contact = connector.contact(for: row.key)
                let fresh = addresses.filter { !record.addresses.contains($0.normalized) }
                // A record that says "Do Not" is never skipped: its opt-out is its contact's, apart
                // from Hush's own, so an admin lifting that one leaves the CRM's in force.
                let assertsOptOut = connector.readFields.contains { row.booleans[$0.field] == true }
                if !record.linked, connector.skipOptedOut, !assertsOptOut, !addresses.isEmpty, addresses.allSatisfy(isOptedOut) {
                    // Left unlinked, its values unread: linked later, what it says then counts.
                    report.skipped += 1
                    log.append(ConnectorLogEntry(at: now, kind: .skip, message: "\(row.key): every address is opted out; not linked"))
                    saved[row.key] = record
                    continue
                }
                if !fresh.isEmpty {
                    links.append(ContactLinks(contact: contact, addresses: fresh))
                    // Opt-out wins: addresses a record no longer carries stay linked.
                    record.addresses += fresh.map(\.normalized)
                    // What blocks the new addresses may have to be written to the record.
                    candidates.append(row.key)
                }
                report.linked += record.linked ? 0 : 1
                record.linked = true
                let pending = record
                let reading = CRMRules.reading(
                    values, known: seen ? record : nil, modifiedBy: row.modifiedBy, integrationUser: state.integrationUser,
                    connector: connector, wanted: { mapping in Channel.allCases.contains { mapping.channel.covers($0) && blocked(pending, $0) } })
                for (mapping, old) in reading.optOuts {
                    optOuts.append(optOut(contact, mapping, old: old, row: row))
                    record.kept.remove(mapping.field)
                    report.optOuts += 1
                    report.wouldRecord.append("\(row.key) \(mapping.field) → opt out of \(mapping.channel) at \"\(connector.scope.path)\"")
                    if dryRun {
                        let channels = Channel.allCases.filter { mapping.channel.covers($0) }
                        pageContacts[contact, default: []].append(contentsOf: channels)
                        for key in record.addresses { pageAddresses[key, default: []].append(contentsOf: channels) }
                    }
                }
                for mapping in reading.unchecks {
                    let reasserts = CRMRules.reasserts(mapping, of: connector)
                    reviews.append(CRMReview(
                        connector: connector.id, record: row.key, field: mapping.field, crmUser: row.modifiedBy,
                        changedAt: row.modifiedOn.flatMap { try? Date($0, strategy: .iso8601) }, contact: contact, createdAt: now,
                        reasserted: reasserts))
                    report.unchecks += 1
                    report.wouldReview.append("\(row.key) \(mapping.field) unticked\(reasserts ? "; true written back" : "")")
                    log.append(ConnectorLogEntry(at: now, kind: .uncheck, message: "\(row.key) \(mapping.field) unticked by \(row.modifiedBy ?? "unknown")"))
                    if reasserts {
                        record.pushDueAt = now
                        candidates.append(row.key)
                    } else {
                        record.kept.insert(mapping.field)
                    }
                }
                if row.modifiedBy != nil, row.modifiedBy == state.integrationUser, reading.optOuts.isEmpty, reading.unchecks.isEmpty {
                    // Hush's own write read back: counted once per record, recorded never.
                    report.echoes += 1
                    log.append(ConnectorLogEntry(at: now, kind: .echo, message: "\(row.key): Hush's own write read back"))
                }
                record.version = row.version
                record.fields.merge(values) { $1 }
                // A record seen for the first time, or read again in full, gets Hush's suppressions.
                if resync || !seen { candidates.append(row.key) }
                saved[row.key] = record
            }
            log.append(ConnectorLogEntry(at: now, kind: .read, message: "\(rows.count) \(rows[0].key.entity) rows read"))
            if !dryRun {
                try await store.link(links, in: connector.organization)
                if !optOuts.isEmpty { _ = try await store.record(optOuts, in: connector.organization) }
                // An address a record gained is now its contact's too, and what blocks that
                // contact blocks it: the other records carrying it may have to be written
                // (opt-out wins across records), though no ledger event names them.
                let gained = Set(links.flatMap { $0.addresses.map(\.normalized) })
                if !gained.isEmpty, connector.writes {
                    for other in try await store.crmRecords(of: connector.id, addresses: gained.sorted()) where saved[other.key] == nil {
                        saved[other.key] = other
                        order.append(other.key)
                        candidates.append(other.key)
                    }
                }
            }
            if dryRun {
                wouldOptOut.merge(pageContacts) { $0 + $1 }
                wouldOptOutAddresses.merge(pageAddresses) { $0 + $1 }
                let pageOpted = Set(pageAddresses.keys)
                if connector.writes, !pageOpted.isEmpty {
                    // What the real run marks from its new opt-outs' events: every record carrying
                    // an address of a contact opted out on this page: on it, read earlier in this
                    // run, or known from before.
                    for (key, record) in saved where !pageOpted.isDisjoint(with: record.addresses) { candidates.append(key) }
                    for (key, record) in wouldSave where saved[key] == nil && !pageOpted.isDisjoint(with: record.addresses) {
                        saved[key] = record
                        candidates.append(key)
                    }
                    for other in try await store.crmRecords(of: connector.id, addresses: pageOpted.sorted()) where saved[other.key] == nil {
                        saved[other.key] = other
                        candidates.append(other.key)
                    }
                }
                for key in order { wouldSave[key] = saved[key] }
            }
            for key in candidates where connector.writes {
                guard var record = saved[key], !record.deleted, record.linked else { continue }
                if dryRun {
                    wouldWrite(record)
                } else if !CRMRules.writes(to: record, of: connector, blocked: { blocked(record, $0) }).isEmpty {
                    record.pushDueAt = min(record.pushDueAt ?? now, now)
                    saved[key] = record
                }
            }
            guard !dryRun else { return }
            _ = try await store.saveSync(
                ConnectorSync(records: order.compactMap { saved[$0] }, log: log, reviews: reviews, leaseOwner: leaseOwner), of: connector)
            log = []
        }

        private func optOut(_ contact: ContactID, _ mapping: Connector.FieldMapping, old: Bool?, row: CRMRow) -> OptOut {
            var evidence: [String: JSONValue] = [
                "provider": .string(connector.provider.rawValue), "instance": .string(connector.instanceURL),
                "entity": .string(row.key.entity), "record_id": .string(row.key.id), "field": .string(mapping.field),
                "old": old.map(JSONValue.bool) ?? .null, "new": .bool(true),
            ]
            if let on = row.modifiedOn { evidence["modified_on"] = .string(on) }
            if let by = row.modifiedBy { evidence["modified_by"] = .string(by) }
            if let version = row.version { evidence["version"] = .string(version) }
            return OptOut(
                subject: .contact(contact), channel: mapping.channel, scope: connector.scope, list: connector.list, source: .crm,
                actor: connector.actor(user: row.modifiedBy), evidence: Evidence(evidence))
        }

        /// The addresses in the record's match fields; ones that do not parse are counted, not linked.
        private mutating func addresses(of row: CRMRow) -> [Address] {
            var found: [Address] = []
            for (fields, kind) in [(connector.match.email, Address.Kind.email), (connector.match.phone, .phone)] {
                for field in fields {
                    guard let text = row.texts[field]?.trimmed, !text.isEmpty else { continue }
                    do {
                        let region = organization.settings.defaultRegion
                        // A number typed with its extension is the number's: its "Do Not Call" too.
                        let address = kind == .email ? try Address(email: text)
                            : try Address.numberBeforeExtension(text).map { try Address(phone: $0, region: region) } ?? Address(phone: text, region: region)
                        if !found.contains(address) { found.append(address) }
                    } catch {
                        report.invalidAddresses += 1
                    }
                }
            }
            return found
        }

        /// Opted out of every channel that reaches the address.
        private func isOptedOut(_ address: Address) -> Bool {
            let channels = Channel.allCases.filter { $0.addressKind == address.kind }
            return channels.allSatisfy { channel in
                !store.blocks(for: address, in: connector.organization, query: query(channel)).isEmpty
            }
        }

        func query(_ channel: Channel) -> CheckQuery {
            CheckQuery(channel: channel, scope: connector.scope, lists: [connector.list])
        }
    }
}

extension CRMFailure {
    var isThrottle: Bool {
        if case .throttled = self { true } else { false }
    }
}
