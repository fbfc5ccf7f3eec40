import Crypto
import Foundation

public typealias ConsoleUserID = Identifier<ConsoleUser>

/// A person who signs in to the console with an email and a password. A user acts with the
/// API's meaning of its role (`admin` or `member`) in its organization. An email belongs to one
/// user in the whole database, so signing in needs no organization name.
public struct ConsoleUser: Sendable, Hashable {
    public let id: ConsoleUserID
    public let organization: OrganizationID
    /// Lowercased, with its domain in ASCII (the address rules of `Address(email:)`).
    public let email: String
    public let role: Role
    public let createdAt: Date
    public var disabledAt: Date?
    public var lastSignInAt: Date?

    public init(
        id: ConsoleUserID, organization: OrganizationID, email: String, role: Role, createdAt: Date, disabledAt: Date? = nil,
        lastSignInAt: Date? = nil
    ) {
        self.id = id
        self.organization = organization
        self.email = email
        self.role = role
        self.createdAt = createdAt
        self.disabledAt = disabledAt
        self.lastSignInAt = lastSignInAt
    }

    public var principal: Principal { Principal(organization: organization, role: role, user: id) }
}

/// What makes a console user valid: the email, the role and the password rules.
public enum ConsoleCredentials {
    /// NIST SP 800-63B's floor is 8; a console that lifts opt-outs asks for more.
    public static let minimumPasswordLength = 12
    /// bcrypt reads at most 72 bytes; a longer password would be cut silently, so it is refused.
    public static let maximumPasswordBytes = 72

    /// The normalized email, or `invalid_input` naming `email`.
    public static func email(parsing input: String) throws(HushError) -> String {
        do {
            return try Address(email: input).normalized
        } catch {
            throw .invalid("email", error.message)
        }
    }

    /// A console user is an admin or a member; `inbound` is for provider integrations' keys.
    public static func role(parsing input: String) throws(HushError) -> Role {
        let role = try Role(parsing: input)
        guard role != .inbound else { throw .invalid("role", "a console user is an admin or a member, not \"inbound\"") }
        return role
    }

    public static func check(password: String) throws(HushError) {
        guard password.count >= minimumPasswordLength else {
            throw .invalid("password", "the password must be at least \(minimumPasswordLength) characters")
        }
        guard password.utf8.count <= maximumPasswordBytes else {
            throw .invalid("password", "the password must be at most \(maximumPasswordBytes) bytes (bcrypt reads no more)")
        }
    }

    /// A password for a user created without one: 18 random bytes, 24 characters of base64url.
    public static func generatedPassword() -> String {
        Data((0..<18).map { _ in UInt8.random(in: .min ... .max) }).base64URLEncoded()
    }
}

/// A signed-in console session. The browser holds the token in a cookie; the database holds
/// only its SHA-256, so every node recognises the session and a stolen database opens none.
public struct ConsoleSession: Sendable, Hashable {
    public let tokenHash: String
    public let user: ConsoleUserID
    public let createdAt: Date
    /// When the session ends if it is not used before; each use moves it on.
    public var expiresAt: Date

    public init(tokenHash: String, user: ConsoleUserID, createdAt: Date, expiresAt: Date) {
        self.tokenHash = tokenHash
        self.user = user
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// A session's secret token, and what is derived from it.
public struct SessionToken: Sendable, Hashable {
    public let secret: String

    public init(secret: String) {
        self.secret = secret
    }

    public static func generate() -> SessionToken {
        SessionToken(secret: SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64URLEncoded())
    }

    /// What the database keeps: lowercase hex SHA-256.
    public var hash: String { APIKey(secret: secret).hash }

    /// The token every form of this session carries: derived from the secret, so it needs no
    /// storage, and no other session's forms can present it.
    public var csrfToken: String {
        Data(HMAC<SHA256>.authenticationCode(for: Data("hush-console-csrf".utf8), using: SymmetricKey(data: Data(secret.utf8))))
            .base64URLEncoded()
    }
}
