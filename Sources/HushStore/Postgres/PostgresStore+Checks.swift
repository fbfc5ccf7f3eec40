import Foundation
import HushCore

extension PostgresStore {
    public func blocks(for address: Address, in organization: OrganizationID, query: CheckQuery) -> Decision.Blocks {
        indexed.blocks(for: address, in: organization, query: query)
    }

    public func decision(for address: Address, contact: ContactID, in organization: OrganizationID, query: CheckQuery) -> Decision {
        indexed.decision(for: address, contact: contact, in: organization, query: query)
    }

    public func blocks(ofContact contact: ContactID, in organization: OrganizationID, query: CheckQuery) -> [Decision.Block] {
        indexed.blocks(ofContact: contact, in: organization, query: query)
    }

    public func decisions(for addresses: [Address], in organization: OrganizationID, query: CheckQuery) -> [Decision] {
        indexed.decisions(for: addresses, in: organization, query: query)
    }

    public var indexedCount: Int { indexed.indexedCount }

    public func catchUp() async throws {
        try await indexed.catchUp()
    }

    public func appliedSequence() async -> Int64 {
        await indexed.appliedSequence()
    }

    public func waitUntilApplied(_ sequence: Int64, within limit: Duration) async throws -> Bool {
        try await indexed.waitUntilApplied(sequence, within: limit)
    }
}
