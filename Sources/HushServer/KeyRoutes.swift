import Foundation
import Hummingbird
import HushCore
import HushStore

/// `/v1/keys`: an admin creates keys (the key is in the answer, once), sees the organization's
/// keys (never the keys themselves) and revokes them. `hush keys create` does the same.
struct KeyRoutes: Sendable {
    let store: any AccessStore

    func register(on group: V1Group) {
        group.on(.get, "keys") { _, context in try await all(context) }
        group.on(.post, "keys") { request, context in try await create(request, context) }
        group.on(.delete, "keys/:id") { _, context in try await revoke(context) }
    }

    struct KeyJSON: Encodable, Sendable {
        let id: Int64
        let role: String
        let prefix: String
        let createdAt: Date
        @NullEncoded var lastUsedAt: Date?
        /// Only in the answer to a create.
        var key: String?

        enum CodingKeys: String, CodingKey {
            case id, role, prefix, key
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

    struct KeyInput: APIInput {
        static let fields: Set<String> = ["role"]
        let role: String
    }

    private func create(_ request: Request, _ context: HushRequestContext) async throws -> JSONBody<KeyJSON> {
        let caller = try context.caller()
        try caller.requireAdmin("creating a key")
        let input = try await request.input(KeyInput.self, context: context)
        let role = try naming("role") { () throws(HushError) in try Role(parsing: input.role) }
        let (key, info) = try await store.createKey(in: caller.organization, role: role)
        return JSONBody(KeyJSON(id: info.id, role: role.rawValue, prefix: info.displayPrefix, createdAt: info.createdAt, key: key.secret), status: .created)
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
