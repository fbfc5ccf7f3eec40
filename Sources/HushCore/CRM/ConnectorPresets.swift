/// What a connector maps when `fields` or `match` are left out: the provider's standard fields
/// for the mode (docs/crm.md has the table).
public enum ConnectorPresets {
    /// Dynamics' custom Boolean for `sales_field` unless one is named.
    public static let dynamicsSalesField = "new_salesoptout"
    public static let salesforceSalesField = "Sales_Opt_Out__c"

    /// The mapped fields. `smsField` is the custom SMS field (neither CRM has a standard one);
    /// without it SMS is not mapped in `shared_field` and `hush_only`. `salesField` overrides the
    /// default custom field of `sales_field`.
    public static func fields(
        _ provider: Connector.Provider, _ mode: Connector.Mode, smsField: String?, salesField: String?
    ) -> [Connector.FieldMapping] {
        switch mode {
        case .salesField:
            let field = salesField ?? (provider == .dynamics ? dynamicsSalesField : salesforceSalesField)
            return [Connector.FieldMapping(channel: .all, field: field, direction: .both)]
        case .sharedField, .hushOnly:
            let direction: Connector.Direction = mode == .hushOnly ? .in : .both
            var fields: [Connector.FieldMapping]
            switch provider {
            case .dynamics:
                fields = [
                    .init(channel: .only(.email), field: "donotemail", direction: direction),
                    .init(channel: .only(.voice), field: "donotphone", direction: direction),
                ]
                // Bulk email is written beside `donotemail`, never read in: marketing's own switch.
                if mode == .sharedField { fields.insert(.init(channel: .only(.email), field: "donotbulkemail", direction: .out), at: 1) }
            case .salesforce:
                fields = [
                    .init(channel: .only(.email), field: "HasOptedOutOfEmail", direction: direction),
                    .init(channel: .only(.voice), field: "DoNotCall", direction: direction),
                ]
            }
            if let smsField { fields.append(.init(channel: .only(.sms), field: smsField, direction: direction)) }
            return fields
        }
    }

    /// The fields that carry a record's addresses, the same on contacts and leads.
    public static func match(_ provider: Connector.Provider) -> Connector.Match {
        switch provider {
        case .dynamics:
            Connector.Match(email: ["emailaddress1", "emailaddress2", "emailaddress3"], phone: ["telephone1", "telephone2", "mobilephone"])
        case .salesforce:
            Connector.Match(email: ["Email"], phone: ["Phone", "MobilePhone"])
        }
    }
}

extension Connector {
    public static let entityNames: Set<String> = ["contact", "lead"]
    public static let maximumNameLength = 100
    public static let pollRange = 15...3_600
    public static let maximumFields = 20

    /// Checks what a caller set, naming the field at fault.
    public func validate() throws(HushError) {
        guard (1...Self.maximumNameLength).contains(name.trimmed.count) else {
            throw .invalid("name", "a connector's name has 1 to \(Self.maximumNameLength) characters")
        }
        guard !entities.isEmpty, entities.allSatisfy(Self.entityNames.contains), Set(entities).count == entities.count else {
            throw .invalid("entities", "entities are one or both of contact, lead, each once")
        }
        guard Self.pollRange.contains(pollSeconds) else {
            throw .invalid("poll_seconds", "poll_seconds is from \(Self.pollRange.lowerBound) to \(Self.pollRange.upperBound)")
        }
        guard fields.count <= Self.maximumFields else { throw .invalid("fields", "at most \(Self.maximumFields) fields") }
        for (position, mapping) in fields.enumerated() {
            guard Self.isFieldName(mapping.field) else {
                throw .invalid("fields[\(position)].field", "\"\(mapping.field)\" is not a CRM field name (letters, digits and _)")
            }
            if mode == .hushOnly, mapping.direction.writes {
                throw .invalid("fields[\(position)].direction", "a hush_only connector writes nothing to the CRM; use in")
            }
        }
        if mode != .hushOnly, !fields.contains(where: \.direction.writes) {
            throw .invalid("fields", "a \(mode.rawValue) connector writes at least one field (direction both or out)")
        }
        for (name, list) in [("match.email", match.email), ("match.phone", match.phone)] {
            guard list.count <= Self.maximumFields else { throw .invalid(name, "at most \(Self.maximumFields) fields") }
            if let bad = list.first(where: { !Self.isFieldName($0) }) {
                throw .invalid(name, "\"\(bad)\" is not a CRM field name (letters, digits and _)")
            }
        }
        guard !match.fields.isEmpty else { throw .invalid("match", "a connector matches records by at least one email or phone field") }
        if pushOptIns, mode != .salesField {
            throw .invalid("push_opt_ins", "opt-ins are pushed only in sales_field mode, to a field only Hush writes")
        }
        if skipOptedOut, mode != .hushOnly {
            throw .invalid("skip_opted_out", "skip_opted_out applies to hush_only connectors")
        }
        if provider == .dynamics, tenant == nil, tokenURL == nil {
            throw .invalid("auth.tenant", "a Dynamics connector needs the Microsoft Entra tenant (or a token_url)")
        }
    }

    static func isFieldName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, (1...100).contains(name.utf8.count),
              first.properties.isAlphabetic || first == "_" else { return false }
        return name.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "_" }
    }
}
