import Foundation

/// The rules of CRM sync (DESIGN "CRM sync", docs/crm.md), whichever provider and backend: what a
/// record read in records, and what Hush writes out. A sync never opts anyone in.
public enum CRMRules {
    /// What a record read from the CRM means for Hush.
    public struct Reading: Sendable {
        /// Fields that turned true (or were true when the record was first seen): opt-outs of
        /// their channels, recorded on the record's contact.
        public var optOuts: [(mapping: Connector.FieldMapping, old: Bool?)] = []
        /// Fields unticked in the CRM: review items, never opt-ins.
        public var unchecks: [Connector.FieldMapping] = []
        /// Changes the integration user made to a value Hush writes: Hush's own writes coming back.
        public var echoes: [String] = []

        public var isEmpty: Bool { optOuts.isEmpty && unchecks.isEmpty && echoes.isEmpty }
    }

    /// What the values just read mean against what Hush last knew (`known`, nil for a record
    /// never seen). Only fields read in count. A change the integration user made
    /// (`modifiedBy == integrationUser`) to the value Hush would write now (`wanted`: whether Hush
    /// would tick the field) is Hush's own write coming back, and means nothing; any other change
    /// counts, whoever saved the record last.
    public static func reading(
        _ values: [String: Bool], known: CRMRecord?, modifiedBy: String?, integrationUser: String?, connector: Connector,
        wanted: (Connector.FieldMapping) -> Bool
    ) -> Reading {
        var reading = Reading()
        let byHush = modifiedBy != nil && modifiedBy == integrationUser
        for mapping in connector.readFields {
            guard let new = values[mapping.field] else { continue }
            let old = known?.fields[mapping.field]
            guard new != old else { continue }
            let written = connector.writtenFields.contains { $0.field == mapping.field }
            if byHush, written, new == wanted(mapping), new || connector.pushesOptIns {
                reading.echoes.append(mapping.field)
                continue
            }
            if new {
                reading.optOuts.append((mapping, old))
            } else if old == true {
                reading.unchecks.append(mapping)
            }
        }
        return reading
    }

    /// The values Hush writes to a record: a mapped field turns true when a check at the
    /// connector's scope honouring its list is blocked on any of the field's channels (held
    /// opt-outs included); it turns false only when opt-ins are pushed (`sales_field` with
    /// `push_opt_ins`) and nothing blocks. A value already equal is not written.
    public static func writes(to record: CRMRecord, of connector: Connector, blocked: (Channel) -> Bool) -> [String: Bool] {
        guard connector.writes, !record.deleted else { return [:] }
        var wanted: [String: Bool] = [:]
        for mapping in connector.writtenFields {
            let channels = Channel.allCases.filter { mapping.channel.covers($0) }
            let want = channels.contains(where: blocked)
            // Two mappings of one field (every channel to the sales field): any block ticks it.
            wanted[mapping.field] = (wanted[mapping.field] ?? false) || want
        }
        var writes: [String: Bool] = [:]
        // A field the CRM unticked under review stays as the CRM has it.
        for (field, want) in wanted where record.fields[field] != want && !record.kept.contains(field) {
            if want {
                writes[field] = true
            } else if connector.pushesOptIns, record.fields[field] == true {
                writes[field] = false
            }
        }
        return writes
    }

    /// Whether the CRM's value of `field` is written back to true after it was unticked.
    public static func reasserts(_ mapping: Connector.FieldMapping, of connector: Connector) -> Bool {
        connector.onCRMUncheck == .reassert && connector.writes && mapping.direction.writes
    }
}

extension Connector {
    /// Opt-ins are pushed only to a field only Hush writes (`sales_field`).
    public var pushesOptIns: Bool { pushOptIns && mode == .salesField }
}
