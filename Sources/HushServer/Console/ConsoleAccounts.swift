import Foundation
import HummingbirdBcrypt
import HushCore
import HushStore
import NIOPosix
import Synchronization

/// The one place console users are created, signed in and out, and their sessions found:
/// `/v1/users`, `hush users` and the console's pages all come here.
struct ConsoleAccounts: Sendable {
    /// A session unused for this long ends.
    static let defaultIdleTimeout: Duration = .seconds(2 * 3_600)
    /// bcrypt's work factor for new passwords (2^12 rounds, about a quarter of a second here).
    static let defaultPasswordCost: UInt8 = 12

    let store: any ConsoleStore & AccessStore
    var idleTimeout: Duration = defaultIdleTimeout
    var passwordCost: UInt8 = defaultPasswordCost
    let signIns: SignInLimiter
    let now: @Sendable () -> Date

    init(store: any ConsoleStore & AccessStore, idleTimeout: Duration = defaultIdleTimeout, passwordCost: UInt8 = defaultPasswordCost,
         signIns: SignInLimiter = SignInLimiter(), now: @escaping @Sendable () -> Date) {
        self.store = store
        self.idleTimeout = idleTimeout
        self.passwordCost = passwordCost
        self.signIns = signIns
        self.now = now
    }

    /// A new user; with no password given, one is generated and returned (shown once).
    func create(email: String, role: String, password: String?, in organization: OrganizationID) async throws -> (ConsoleUser, generated: String?) {
        let email = try ConsoleCredentials.email(parsing: email)
        let role = try ConsoleCredentials.role(parsing: role)
        if let password { try ConsoleCredentials.check(password: password) }
        let chosen = password ?? ConsoleCredentials.generatedPassword()
        let hash = try await hashed(chosen)
        let user = try await store.createUser(email: email, role: role, passwordHash: hash, in: organization, at: now())
        return (user, password == nil ? chosen : nil)
    }

    func disable(_ id: ConsoleUserID, in organization: OrganizationID) async throws {
        guard try await store.disableUser(id, in: organization, at: now()) else {
            throw HushError(.notFound, field: "id", "no enabled console user \(id) in this organization")
        }
    }

    /// A new session for the email and password, or `unauthorized` (the same answer for an
    /// unknown email, a wrong password and a disabled user). Too many failures for an email or
    /// from an address answer `rate_limited` before the password is looked at.
    func signIn(email: String, password: String, from ip: String) async throws -> (SessionToken, ConsoleUser) {
        let email = (try? ConsoleCredentials.email(parsing: email)) ?? email.lowercased()
        // The attempt counts before the password is checked, so guesses sent at once are
        // limited as well as guesses sent one after another.
        guard signIns.attempt(email: email, ip: ip) else {
            throw HushError(.rateLimited, "too many failed sign-ins; wait a few minutes and try again")
        }
        let found = try await store.userForSignIn(email: email)
        // An unknown email costs the same bcrypt as a known one, so timing tells nothing.
        let stored = if let found { found.passwordHash } else { try await decoy.hash(cost: passwordCost) }
        let matches = try await verified(password, stored)
        guard let found, matches, found.user.disabledAt == nil else {
            throw Problem.unauthorized("the email or the password is wrong")
        }
        signIns.succeeded(email: email, ip: ip)
        let token = SessionToken.generate()
        let at = now()
        try await store.createSession(ConsoleSession(tokenHash: token.hash, user: found.user.id, createdAt: at, expiresAt: at.addingTimeInterval(idleTimeout.seconds)))
        return (token, found.user)
    }

    /// The session's user, its expiry moved on when a minute or more of it was used.
    func session(_ token: SessionToken) async throws -> ConsoleUser? {
        let at = now()
        guard let (session, user) = try await store.session(tokenHash: token.hash, at: at) else { return nil }
        let renewed = at.addingTimeInterval(idleTimeout.seconds)
        if renewed.timeIntervalSince(session.expiresAt) >= 60 { try await store.extendSession(tokenHash: token.hash, until: renewed) }
        return user
    }

    func signOut(_ token: SessionToken) async throws {
        try await store.endSession(tokenHash: token.hash)
    }

    private func hashed(_ password: String) async throws -> String {
        let cost = passwordCost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    private func verified(_ password: String, _ hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    let decoy = DecoyHash()
}

/// A bcrypt hash of a random password at the server's cost, checked against when the email is
/// unknown; made once, off the request threads.
final class DecoyHash: Sendable {
    private let made = Mutex<(cost: UInt8, hash: String)?>(nil)

    func hash(cost: UInt8) async throws -> String {
        if let made = made.withLock({ $0 }), made.cost == cost { return made.hash }
        let hash = try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(ConsoleCredentials.generatedPassword(), cost: cost) }
        made.withLock { $0 = (cost, hash) }
        return hash
    }
}

/// Sign-in attempts per email and per client address in ten-minute windows: 10 per email, 50
/// per address, counted when the attempt starts. Kept in each node's memory; a success takes
/// its attempt back and clears the email's count. Anyone may spend an email's attempts (the
/// price of limiting guesses per account); the owner signs in again when the window passes.
final class SignInLimiter: Sendable {
    static let window: Duration = .seconds(600)
    let perEmail: Int
    let perAddress: Int
    private let failures = Mutex<[String: (start: ContinuousClock.Instant, count: Int)]>([:])

    init(perEmail: Int = 10, perAddress: Int = 50) {
        self.perEmail = perEmail
        self.perAddress = perAddress
    }

    /// Counts an attempt; false (counting nothing) when the email or the address is at its limit.
    func attempt(email: String, ip: String) -> Bool {
        let now = ContinuousClock.now
        return failures.withLock { failures in
            if failures.count > 100_000 { failures = failures.filter { now - $0.value.start < Self.window } }
            func current(_ key: String) -> (start: ContinuousClock.Instant, count: Int) {
                guard let entry = failures[key], now - entry.start < Self.window else { return (now, 0) }
                return entry
            }
            var byEmail = current("email:" + email)
            var byAddress = current("ip:" + ip)
            guard byEmail.count < perEmail, byAddress.count < perAddress else { return false }
            byEmail.count += 1
            byAddress.count += 1
            failures["email:" + email] = byEmail
            failures["ip:" + ip] = byAddress
            return true
        }
    }

    func succeeded(email: String, ip: String) {
        failures.withLock { failures in
            failures.removeValue(forKey: "email:" + email)
            if var entry = failures["ip:" + ip], entry.count > 0 {
                entry.count -= 1
                failures["ip:" + ip] = entry
            }
        }
    }
}
