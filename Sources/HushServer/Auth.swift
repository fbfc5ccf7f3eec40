import Foundation
import Hummingbird
import HushCore
import HushStore
import Synchronization

/// Finds the principal of a bearer key. Keys are looked up by their SHA-256 once and then
/// remembered, so checks do not read the database for authentication. Every `refreshInterval`
/// one request asks which of the remembered keys are revoked now (by any process on the
/// database) and forgets them, so a revoked key is refused everywhere within a second. It asks
/// by id: following revocations by when they were stamped let a node whose clock was ahead, or a
/// revoking one whose clock was behind, hide a revocation from the others. The same round notes
/// which keys were used, at most once a minute each.
final class KeyAuthenticator: Sendable {
    static let defaultRefreshInterval: Duration = .milliseconds(500)
    static let usedInterval: Duration = .seconds(60)

    private struct State {
        /// Keyed by the key as presented: hashing it on every request cost more than the check.
        /// The database still holds only hashes; this map lives in memory only.
        var known: [String: Principal] = [:]
        var lastRefresh: ContinuousClock.Instant
        var refreshing = false
        var used: Set<Int64> = []
        var lastNoted: [Int64: ContinuousClock.Instant] = [:]
    }

    private let store: any AccessStore
    private let refreshInterval: Duration
    private let state: Mutex<State>
    private let now: @Sendable () -> Date

    init(store: any AccessStore, refreshInterval: Duration = defaultRefreshInterval, now: @escaping @Sendable () -> Date) {
        self.store = store
        self.refreshInterval = refreshInterval
        self.now = now
        state = Mutex(State(lastRefresh: .now))
    }

    /// The principal of a key this process already accepted, without asking the database.
    func cachedPrincipal(for key: String) -> Principal? {
        state.withLock { $0.known[key] }
    }

    /// The principal of a key this process already accepted, its use noted, unless the
    /// revocations are due to be read again: then nil, and the request is to take
    /// `principal(for:)`, which reads them (`CheckDoor` answers only while none is due).
    func principalWithoutRefresh(for key: String) -> Principal? {
        let (cached, due) = lookUp(key, now: .now, claimingRefresh: false)
        return due ? nil : cached
    }

    /// One lock on the hot path: the cached principal, its use noted, and whether the
    /// revocations are due to be read (claimed for this request when `claimingRefresh`).
    private func lookUp(_ key: String, now: ContinuousClock.Instant, claimingRefresh: Bool) -> (Principal?, due: Bool) {
        state.withLock { state -> (Principal?, Bool) in
            let principal = state.known[key]
            if let id = principal?.keyID, !state.used.contains(id) { state.used.insert(id) }
            guard !state.refreshing, now - state.lastRefresh >= refreshInterval else { return (principal, false) }
            if claimingRefresh { state.refreshing = true }
            return (principal, true)
        }
    }

    func principal(for key: String) async throws -> Principal? {
        let now = ContinuousClock.now
        let (cached, due) = lookUp(key, now: now, claimingRefresh: true)
        if due {
            // A database that cannot answer now leaves the cache as it is (a check still answers
            // from memory); the next round tries again.
            try? await refresh(now: now)
            // The key may have been revoked just now.
            if cached != nil, state.withLock({ $0.known[key] }) == nil { return try await principal(for: key) }
        }
        if let cached { return cached }
        guard let found = try await store.principal(forKeyHash: APIKey(secret: key).hash) else { return nil }
        state.withLock { state in
            state.known[key] = found
            if let id = found.keyID { state.used.insert(id) }
        }
        return found
    }

    private func refresh(now: ContinuousClock.Instant) async throws {
        defer { state.withLock { $0.refreshing = false } }
        let remembered = state.withLock { Set($0.known.values.compactMap(\.keyID)) }
        let revoked = try await store.revokedKeys(among: remembered)
        let used = state.withLock { state in
            if !revoked.isEmpty { state.known = state.known.filter { $0.value.keyID.map { !revoked.contains($0) } ?? true } }
            state.lastRefresh = now
            let due = state.used.filter { id in state.lastNoted[id].map { now - $0 >= Self.usedInterval } ?? true }
            for id in due { state.lastNoted[id] = now }
            state.used = []
            return due
        }
        try await store.noteKeysUsed(used, at: self.now())
    }
}

/// Requires `Authorization: Bearer <key>` and puts the key's principal in the context. A
/// refusal is logged with the key's first characters only, and counted.
struct KeyMiddleware: RouterMiddleware {
    typealias Context = HushRequestContext
    let authenticator: KeyAuthenticator
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw refused("missing", nil, context, "send an API key as Authorization: Bearer <key>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw refused("malformed", nil, context, "the Authorization header must be Bearer <key>")
        }
        let key = String(parts[1])
        guard let principal = try await authenticator.principal(for: key) else {
            throw refused("unknown", key, context, "the API key is not valid")
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }

    private func refused(_ reason: String, _ key: String?, _ context: Context, _ detail: String) -> Problem {
        metrics.authenticationFailed(reason)
        context.logger.warning("authentication failed", metadata: [
            "auth.reason": "\(reason)", "key.prefix": "\(key.map { APIKey(secret: $0).displayPrefix } ?? "-")",
        ])
        return Problem.unauthorized(detail)
    }
}
