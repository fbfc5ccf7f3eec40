import Foundation
import Hummingbird
import HushCore
import HushStore

/// `/v1/users` (admins manage the organization's console users) and `/v1/scopes` (display
/// names of scope paths, read by anyone, set by admins).
struct UserRoutes: Sendable {
    static let maximumScopeNameLength = 100

    let accounts: ConsoleAccounts
    let store: any ConsoleStore & AccessStore

    func register(on group: V1Group) {
        group.on(.get, "users") { _, context in try await users(context) }
        group.on(.post, "users") { request, context in try await create(request, context) }
        group.on(.delete, "users/:id") { _, context in try await disable(context) }
        group.on(.get, "scopes") { _, context in try await scopes(context) }
        group.on(.put, "scopes/:path") { request, context in try await nameScope(request, context) }
    }

    struct UserJSON: Encodable, Sendable {
        let id: Int64
        let email: String
        let role: String
        let createdAt: Date
        @NullEncoded var disabledAt: Date?
        @NullEncoded var lastSignInAt: Date?
        /// Only in the answer to a create that generated it.
        let password: String?

        init(_ user: ConsoleUser, password: String? = nil) {
            id = user.id.rawValue
            email = user.email
            role = user.role.rawValue
            createdAt = user.createdAt
            disabledAt = user.disabledAt
            lastSignInAt = user.lastSignInAt
            self.password = password
        }

        enum CodingKeys: String, CodingKey {
            case id, email, role, password
            case createdAt = "created_at"
            case disabledAt = "disabled_at"
            case lastSignInAt = "last_sign_in_at"
        }
    }

    struct UsersJSON: Encodable, Sendable {
        let users: [UserJSON]
    }

    struct UserInput: APIInput {
        static let fields: Set<String> = ["email", "role", "password"]
        let email: String
        let role: String
        let password: String?
    }

    private func users(_ context: HushRequestContext) async throws -> JSONBody<UsersJSON> {
        let caller = try context.caller()
        try caller.requireAdmin("listing console users")
        return JSONBody(UsersJSON(users: try await store.users(in: caller.organization).map { UserJSON($0) }))
    }

    private func create(_ request: Request, _ context: HushRequestContext) async throws -> JSONBody<UserJSON> {
        let caller = try context.caller()
        try caller.requireAdmin("creating a console user")
        let input = try await request.input(UserInput.self, context: context)
        let (user, generated) = try await accounts.create(email: input.email, role: input.role, password: input.password, in: caller.organization)
        return JSONBody(UserJSON(user, password: generated), status: .created)
    }

    private func disable(_ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("disabling a console user")
        let text = context.parameters.get("id") ?? ""
        guard let id = ConsoleUserID(text) else { throw HushError(.notFound, field: "id", "no console user \"\(text)\" in this organization") }
        try await accounts.disable(id, in: caller.organization)
        return Response(status: .noContent)
    }

    struct ScopeJSON: Encodable, Sendable {
        let path: String
        let displayName: String

        enum CodingKeys: String, CodingKey {
            case path
            case displayName = "display_name"
        }
    }

    struct ScopesJSON: Encodable, Sendable {
        let scopes: [ScopeJSON]
    }

    struct ScopeNameInput: APIInput {
        static let fields: Set<String> = ["display_name"]
        let displayName: String?

        enum CodingKeys: String, CodingKey {
            case displayName = "display_name"
        }
    }

    private func scopes(_ context: HushRequestContext) async throws -> JSONBody<ScopesJSON> {
        let caller = try context.caller()
        let names = try await store.scopeNames(in: caller.organization)
        return JSONBody(ScopesJSON(scopes: names.sorted { $0.key < $1.key }.map { ScopeJSON(path: $0.key.path, displayName: $0.value) }))
    }

    /// The path is one URL segment, its slashes written `%2F` (`/v1/scopes/brand%2Frep-1`).
    private func nameScope(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("naming a scope")
        let raw = context.parameters.get("path") ?? ""
        let path = raw.removingPercentEncoding ?? raw
        let scope = try naming("path") { () throws(HushError) in try Scope(parsing: path) }
        guard scope != .organization else { throw Problem.invalid("path", "the organization's own scope is named by its brand_name setting") }
        let input = try await request.input(ScopeNameInput.self, context: context)
        let name = input.displayName?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let name {
            guard !name.isEmpty, name.count <= Self.maximumScopeNameLength else {
                throw Problem.invalid("display_name", "the display name must be 1 to \(Self.maximumScopeNameLength) characters, or null to remove it")
            }
        }
        try await store.nameScope(scope, name, in: caller.organization)
        guard let name else { return Response(status: .noContent) }
        return try JSONBody(ScopeJSON(path: scope.path, displayName: name)).response(from: request, context: context)
    }
}
