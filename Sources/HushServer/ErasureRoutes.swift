import Foundation
import Hummingbird
import HushCore
import HushStore

/// `POST /v1/erasures`: an admin erases a person's address. Only a keyed hash stays, on the
/// suppression list and in the ledger, so the opt-out is still honoured; evidence, announced
/// events, pending opt-ins and send reports keep no clear address. Erasing again changes nothing.
struct ErasureRoutes: Sendable {
    let store: any AccessStore & Ledger
    let readYourWrites: ReadYourWrites

    func register(on group: V1Group) {
        group.on(.post, "erasures") { request, context in try await erase(request, context) }
    }

    struct ErasureInput: APIInput {
        static let fields: Set<String> = ["address"]
        let address: String
    }

    struct ErasureOutput: Encodable, Sendable {
        /// Whether this request erased it (false when it was erased before, or never known).
        let erased: Bool
        /// Suppressions still in force for the address, now held by its hash.
        let suppressions: Int
        /// The ledger position the answering node has applied (see `ReadYourWrites`).
        let sequence: Int64
    }

    private func erase(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("erasing an address")
        let input = try await request.input(ErasureInput.self, context: context)
        let organization = try await store.requireOrganization(caller)
        let address = try Address(parsing: input.address, region: organization.settings.defaultRegion)
        let erased = try await store.erase(address, in: caller.organization)
        let held = try await store.suppressions(of: address, in: caller.organization)
        context.logger.info("address erased", metadata: ["erased": "\(erased)", "suppressions": "\(held.count)"])
        let sequence = await readYourWrites.store.appliedSequence()
        return try await readYourWrites.answer(
            JSONBody(ErasureOutput(erased: erased, suppressions: held.count, sequence: sequence)), sequence: sequence, to: request,
            context: context)
    }
}
