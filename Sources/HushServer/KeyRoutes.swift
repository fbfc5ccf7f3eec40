import Foundation
import Hummingbird
import HushCore
import HushStore

/// `/v1/keys`: an admin sees the organization's keys (never the keys themselves) and revokes
/// them. Keys are created with `hush keys create`.
struct KeyRoutes: Sendable {
    let store: any AccessStore

    func register(on group: V1Group) {
        group.on(.get, "keys") { _, context in try await all(context) }
        group.on(.delete, "keys/:id") { _, context in try await revoke(context) }
    }

    struct KeyJSON: Encodable, Sendable {
        let id: Int64
        let role: String
        let prefix: String
        let createdAt: Date
        @NullEncoded var lastUsedAt: Date?

        enum CodingKeys: String, CodingKey {
            case id, role, prefix
            case createdAt = "created_at"
            case lastUsedAt = "last_used_at"
        }
    }

    struct KeysJSON: Encodable, Sendable {
        let keys: [KeyJSON]
    }

    private func all(_ context: HushRequestContext) async throws -> JSONBody<KeysJSON> {
        let caller = try context.caller()
        try caller.requireAdmin("listing keys")
        let keys = try await store.keys(in: caller.organization).map { key in
            KeyJSON(id: key.id, role: key.role.rawValue, prefix: key.displayPrefix, createdAt: key.createdAt, lastUsedAt: key.lastUsedAt)
        }
        return JSONBody(KeysJSON(keys: keys))
    }

    private func revoke(_ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("revoking a key")
        let text = context.parameters.get("id") ?? ""
        guard let id = Int64(text), try await store.revokeKey(id, in: caller.organization) else {
            throw HushError(.notFound, field: "id", "no key \"\(text)\" in this organization")
        }
        return Response(status: .noContent)
    }
}
