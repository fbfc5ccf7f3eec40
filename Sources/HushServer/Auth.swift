import Hummingbird
import HushCore
import HushStore
import Synchronization

/// Finds the principal of a bearer key. Keys are looked up by their SHA-256 once and then
/// remembered, so checks do not read the database for authentication. Keys cannot be revoked
/// yet; when they can, revocation must clear this map.
final class KeyAuthenticator: Sendable {
    private let store: any Store
    private let known = Mutex<[String: Principal]>([:])

    init(store: any Store) {
        self.store = store
    }

    /// Keyed by the key as presented: hashing it on every request cost more than the check.
    /// The database still holds only hashes; this map lives in memory only.
    func principal(for key: String) async throws -> Principal? {
        if let principal = known.withLock({ $0[key] }) { return principal }
        guard let principal = try await store.principal(forKeyHash: APIKey(secret: key).hash) else { return nil }
        known.withLock { $0[key] = principal }
        return principal
    }
}

/// Requires `Authorization: Bearer <key>` and puts the key's principal in the context.
struct KeyMiddleware: RouterMiddleware {
    typealias Context = HushRequestContext
    let authenticator: KeyAuthenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthorized("send an API key as Authorization: Bearer <key>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw Problem.unauthorized("the Authorization header must be Bearer <key>")
        }
        guard let principal = try await authenticator.principal(for: String(parts[1])) else {
            throw Problem.unauthorized("the API key is not valid")
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }
}
