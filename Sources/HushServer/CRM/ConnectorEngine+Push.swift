import Foundation
import HushCore
import HushStore

extension ConnectorEngine.Run {
    // MARK: Marking pushes due

    /// Walks the ledger from the push cursor to what the index has applied and marks due every
    /// record of a person an event may change the fields of. The marks and the moved cursor are
    /// saved in one transaction: the ledger is the outbox, and nothing it announced is lost.
    mutating func markPushesDue() async throws {
        let applied = await store.appliedSequence()
        guard connector.writes else {
            state.pushCursor = max(state.pushCursor, applied)
            return
        }
        while state.pushCursor < applied {
            let fetched = try await store.events(in: connector.organization, after: state.pushCursor, limit: ConnectorEngine.eventBatch, address: nil)
            // Only what the index has applied: pushes are worked out from it.
            let events = fetched.filter { $0.sequence <= applied }
            let reachedEnd = fetched.count < ConnectorEngine.eventBatch || events.count < fetched.count
            var addresses = Set<String>()
            var keys = Set<CRMRecordKey>()
            var optedOut = Set<String>()
            var optedOutKeys = Set<CRMRecordKey>()
            for event in events where concerns(event) {
                var named: [String] = []
                switch event.subject {
                case .address(let key):
                    named = [key]
                case .contact(let externalID):
                    guard let contact = try? ContactID(parsing: externalID) else { continue }
                    if let key = ownRecord(contact) {
                        keys.insert(key)
                        if event.kind == .optOut { optedOutKeys.insert(key) }
                    }
                    // Opt-out wins across records: every record of the contact's addresses.
                    named = try await store.contact(contact, in: connector.organization)?.addresses.map(\.normalized) ?? []
                }
                addresses.formUnion(named)
                if event.kind == .optOut { optedOut.formUnion(named) }
            }
            var records = try await store.crmRecords(of: connector.id, addresses: Array(addresses))
            let found = Set(records.map(\.key))
            records += try await store.crmRecords(of: connector.id, keys: keys.filter { !found.contains($0) }.sorted())
            let due = now
            var marked: [CRMRecord] = []
            for var record in records where !record.deleted {
                // A new opt-out of the person writes again what the CRM unticked under review.
                let renewed = optedOutKeys.contains(record.key) || record.addresses.contains(where: optedOut.contains)
                let kept = renewed ? [] : record.kept
                guard (record.pushDueAt ?? .distantFuture) > due || kept != record.kept else { continue }
                record.kept = kept
                record.pushDueAt = min(record.pushDueAt ?? due, due)
                marked.append(record)
            }
            report.pushesDue += marked.count
            state.pushCursor = reachedEnd ? applied : (events.last?.sequence ?? applied)
            if !dryRun {
                _ = try await store.saveSync(ConnectorSync(records: marked, state: state, log: log, leaseOwner: leaseOwner), of: connector)
                log = []
            } else {
                marked.forEach { wouldWrite($0) }
            }
        }
    }

    /// Whether an event can change what the connector writes: at its scope or above, on its list
    /// or `default`, on a channel one of its written fields maps.
    private func concerns(_ event: LedgerEvent) -> Bool {
        guard event.scope.covers(connector.scope), event.list == connector.list || event.list == organization.defaultList else { return false }
        return connector.writtenFields.contains { mapping in
            switch event.channel {
            case .all: true
            case .only(let channel): mapping.channel.covers(channel)
            }
        }
    }

    /// The record a contact of this connector's stands for (`crm:<id>:<entity>:<record>`).
    private func ownRecord(_ contact: ContactID) -> CRMRecordKey? {
        let prefix = "crm:\(connector.id.rawValue):"
        guard contact.externalID.hasPrefix(prefix) else { return nil }
        let rest = contact.externalID.dropFirst(prefix.count)
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        return CRMRecordKey(entity: String(rest[..<colon]), id: String(rest[rest.index(after: colon)...]))
    }

    // MARK: Pushing

    /// A dry run's line for a record a push would write, once per record.
    mutating func wouldWrite(_ record: CRMRecord) {
        let fields = CRMRules.writes(to: record, of: connector, blocked: { blocked(record, $0) })
        guard !fields.isEmpty, listed.insert(record.key).inserted else { return }
        report.wouldWrite.append("\(record.key) " + fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))
    }

    /// Writes what is due, a batch at a time, until nothing is due now. A throttle stops the run
    /// with the records still due.
    mutating func pushDue() async throws {
        guard connector.writes else { return }
        while true {
            let due = try await store.duePushes(of: connector.id, at: now, limit: dryRun ? 10_000 : ConnectorEngine.pushBatch)
            guard !due.isEmpty else { return }
            var settled: [CRMRecord] = []
            var pending: [(record: CRMRecord, write: CRMWrite)] = []
            for var record in due {
                let fields = CRMRules.writes(to: record, of: connector, blocked: { blocked(record, $0) })
                if fields.isEmpty {
                    record.pushDueAt = nil
                    record.attempts = 0
                    settled.append(record)
                } else {
                    pending.append((record, CRMWrite(key: record.key, version: record.version, fields: fields)))
                }
            }
            if dryRun {
                due.forEach { wouldWrite($0) }
                return
            }
            let results = pending.isEmpty ? [] : try await client.write(pending.map(\.write))
            var stale: [CRMRecordKey] = []
            var throttled: CRMFailure?
            for ((record, write), result) in zip(pending, results) {
                var record = record
                switch result {
                case .written(let version):
                    record.fields.merge(write.fields) { $1 }
                    record.version = version ?? record.version
                    record.pushDueAt = nil
                    record.attempts = 0
                    report.written += 1
                    engine.metrics?.crmWrites(connector.id, "written")
                    log.append(ConnectorLogEntry(at: now, kind: .write, message: "\(record.key) " + write.fields.keys.sorted().joined(separator: ",")))
                case .stale:
                    report.stale += 1
                    engine.metrics?.crmWrites(connector.id, "stale")
                    if staleOnce.insert(record.key).inserted {
                        stale.append(record.key)
                        continue
                    }
                    record.attempts += 1
                    record.pushDueAt = now.addingTimeInterval(ConnectorEngine.backoff(record.attempts))
                case .throttled(let failure):
                    // Still due, not a failed attempt: the throttle ends the run once the rest is saved.
                    throttled = failure
                    continue
                case .failed(let code, let message):
                    report.writeFailures += 1
                    engine.metrics?.crmWrites(connector.id, "failed")
                    record.attempts += 1
                    record.pushDueAt = now.addingTimeInterval(ConnectorEngine.backoff(record.attempts))
                    log.append(ConnectorLogEntry(at: now, kind: .error, message: "\(record.key) write failed: \(code): \(message)"))
                }
                settled.append(record)
            }
            _ = try await store.saveSync(ConnectorSync(records: settled, log: log, leaseOwner: leaseOwner), of: connector)
            log = []
            if let throttled { throw throttled }
            if !stale.isEmpty {
                // 412: the record changed since it was read. Read it again and take what changed
                // (a field ticked meanwhile is an opt-out); the push is worked out again next loop.
                let rows = try await client.read(stale, fields: connector.selectedFields)
                try await take(rows, resync: true)
            }
        }
    }

    /// Whether a check at the connector's scope honouring its list is blocked on `channel` for
    /// the record: the record's contact itself, or any of its addresses. An address counts for
    /// every channel its suppressions cover, so a person who opted out of every channel by
    /// email has the phone fields ticked too.
    func blocked(_ record: CRMRecord, _ channel: Channel) -> Bool {
        let contact = connector.contact(for: record.key)
        if wouldOptOut[contact]?.contains(channel) == true { return true }
        if record.addresses.contains(where: { wouldOptOutAddresses[$0]?.contains(channel) == true }) { return true }
        if !store.blocks(ofContact: contact, in: connector.organization, query: query(channel)).isEmpty { return true }
        for key in record.addresses {
            let kind: Address.Kind = key.hasPrefix("+") ? .phone : .email
            let address = Address(normalized: key, kind: kind, input: key)
            if !store.decision(for: address, contact: contact, in: connector.organization, query: query(channel)).allowed { return true }
        }
        return false
    }
}
