import HushCore

extension SuppressionIndex {
    /// Writes the scopes, the organizations with erasures, and every shard's links and table
    /// (`IndexSnapshot`). Each shard is written under its lock.
    func write(to output: inout SnapshotOutput) throws {
        let scopes = self.scopes.all
        output.integer(UInt32(scopes.count))
        for scope in scopes { output.string(scope.path) }
        let erasing = erasingOrganizations.withLock { $0.sorted { $0.rawValue < $1.rawValue } }
        output.integer(UInt32(erasing.count))
        for organization in erasing { output.integer(organization.rawValue) }
        output.integer(UInt32(shards.count))
        for shard in shards {
            try shard.state.withLock { state in
                output.integer(UInt32(state.links.count))
                for (digest, links) in state.links {
                    output.integer(digest.high)
                    output.integer(digest.low)
                    output.integer(links.organization.rawValue)
                    output.string(links.subject)
                    output.integer(UInt32(links.contacts.count))
                    for contact in links.contacts { output.string(contact.externalID) }
                }
                try state.table.write(to: &output)
            }
        }
    }

    /// An index as `write(to:)` wrote it, its subjects digested with `digestKey`.
    convenience init(reading input: inout SnapshotInput, erasureKey: ErasureKey, digestKey: DigestKey) throws {
        var scopes: [Scope] = []
        for _ in 0..<(try input.integer(UInt32.self)) { scopes.append(try Scope(parsing: input.string())) }
        var erasing: Set<OrganizationID> = []
        for _ in 0..<(try input.integer(UInt32.self)) { erasing.insert(OrganizationID(rawValue: try input.integer(Int64.self))) }
        let shardCount = Int(try input.integer(UInt32.self))
        guard shardCount > 0, shardCount <= 1 << 16, shardCount & (shardCount - 1) == 0 else {
            throw HushError(.storage, "the index snapshot has \(shardCount) shards")
        }
        var shards: [ShardState] = []
        for _ in 0..<shardCount {
            var links: [SubjectDigest: Links] = [:]
            for _ in 0..<(try input.integer(UInt32.self)) {
                let digest = try SubjectDigest(high: input.integer(UInt64.self), low: input.integer(UInt64.self))
                let organization = OrganizationID(rawValue: try input.integer(Int64.self))
                let subject = try input.string()
                var contacts: [ContactID] = []
                for _ in 0..<(try input.integer(UInt32.self)) { contacts.append(try ContactID(parsing: input.string())) }
                links[digest] = Links(organization: organization, subject: subject, contacts: contacts)
            }
            shards.append(ShardState(table: try DigestTable(reading: &input), links: links))
        }
        self.init(erasureKey: erasureKey, digestKey: digestKey, shards: shards, scopes: scopes, erasing: erasing)
    }
}
