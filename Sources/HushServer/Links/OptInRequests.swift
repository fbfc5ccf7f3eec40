import Foundation
import HushCore
import HushStore

/// Makes and confirms opt-in requests, whichever door asks (the API, the preference center):
/// the one place that decides what a confirmation may lift.
struct OptInRequests: Sendable {
    let store: any Ledger & LinkStore & SuppressionChecks & Directory
    let links: LinkService
    /// How long a confirmation link works.
    let lifetime: Duration
    let now: @Sendable () -> Date

    /// A pending request for what `request` names, or the one already pending for it. It keeps
    /// the suppressions that block it now, except held ones and a contact's that began before
    /// the address was linked to it (`OptInRequest.liftable`): a confirmation lifts at most those.
    /// Its link reaches the person through the `opt_in.requested` webhook (or an admin key).
    func make(_ request: OptInRequest, in organization: Organization) async throws -> (request: OptInRequest, created: Bool) {
        var request = request
        request.lifts = OptInRequest.liftable(
            blocking(request, in: organization), linkedAt: try await store.linkTimes(of: request.address, in: organization.id))
        request.expiresAt = now().addingTimeInterval(lifetime.seconds)
        let signer = try await links.currentSigner()
        let links = self.links
        return try await store.createOptInRequest(request, confirmURL: { stored in
            links.confirmURL(try signer.sign(Self.claims(stored, in: organization.id)))
        }, in: organization.id)
    }

    /// The link that confirms `request`.
    func confirmURL(_ request: OptInRequest, in organization: OrganizationID) async throws -> String {
        links.confirmURL(try await links.sign(Self.claims(request, in: organization)))
    }

    /// Lifts what the request saw when it was made and is still in force, as the person's own
    /// consent; nil when it was confirmed before.
    func confirm(_ request: OptInRequest, actor: String, evidence: Evidence, in organization: Organization) async throws -> [OptInOutcome]? {
        let optIns = try request.confirmingOptIns(blocking(request, in: organization), actor: actor, context: evidence)
        return try await store.confirm(request, as: optIns, in: organization.id)
    }

    /// The suppressions in force that block what the request names, each once.
    private func blocking(_ request: OptInRequest, in organization: Organization) -> [Decision.Block] {
        let channels: [Channel] = switch request.channel {
        case .only(let channel): [channel]
        case .all: Channel.allCases.filter { $0.addressKind == request.address.kind }
        }
        var seen = Set<Int64>()
        var blocks: [Decision.Block] = []
        for channel in channels {
            let query = CheckQuery(channel: channel, scope: request.scope, lists: Set([request.list ?? organization.defaultList]))
            let decision = if let contact = request.contact {
                store.decision(for: request.address, contact: contact, in: organization.id, query: query)
            } else {
                store.decision(for: request.address, in: organization.id, query: query)
            }
            blocks += decision.blockedBy.filter { seen.insert($0.eventSequence).inserted }
        }
        return blocks
    }

    private static func claims(_ request: OptInRequest, in organization: OrganizationID) -> LinkClaims {
        LinkClaims(
            purpose: .confirm, organization: organization.rawValue, address: request.address.normalized,
            contact: request.contact?.externalID, channel: request.channel.rawValue, scope: request.scope.path,
            list: request.list?.rawValue, issuedAt: Int64(request.createdAt.timeIntervalSince1970), request: request.id)
    }
}
