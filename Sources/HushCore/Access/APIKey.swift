import Crypto
import Foundation

/// What a key may do inside its organization.
public enum Role: String, Sendable, Codable, CaseIterable {
    /// Everything, including opt-ins, deleting lists and changing settings.
    case admin
    /// Opt-outs, checks and reading; no opt-ins, deletions or settings.
    case member
    /// A provider integration: posts inbound messages and activities, nothing else.
    case inbound

    public init(parsing name: String) throws(HushError) {
        guard let role = Role(rawValue: name) else {
            throw .invalid("role", "the role must be admin, member or inbound, not \"\(name)\"")
        }
        self = role
    }
}

/// An API key: `hush_` and 32 random bytes in base64url. Only its SHA-256 is stored, so the
/// key is shown once, when it is created.
public struct APIKey: Sendable, Hashable {
    public static let prefix = "hush_"

    public let secret: String

    public init(secret: String) {
        self.secret = secret
    }

    public static func generate() -> APIKey {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return APIKey(secret: prefix + bytes.base64URLEncoded())
    }

    /// The stored form: lowercase hex SHA-256 of the whole key.
    public var hash: String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(secret.utf8)) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// The first characters, safe to show in listings and logs.
    public var displayPrefix: String {
        String(secret.prefix(APIKey.prefix.count + 6))
    }
}

/// Who is calling: the organization and role of the key presented, or of the console user
/// signed in.
public struct Principal: Sendable, Hashable {
    /// What authenticated the caller.
    public enum Agent: Sendable, Hashable {
        case key(Int64)
        case user(ConsoleUserID)
    }

    public let organization: OrganizationID
    public let role: Role
    public let agent: Agent

    public init(organization: OrganizationID, role: Role, keyID: Int64) {
        self.organization = organization
        self.role = role
        self.agent = .key(keyID)
    }

    public init(organization: OrganizationID, role: Role, user: ConsoleUserID) {
        self.organization = organization
        self.role = role
        self.agent = .user(user)
    }

    /// The key's id, when a key authenticated the caller.
    public var keyID: Int64? {
        if case .key(let id) = agent { id } else { nil }
    }

    /// Who the ledger names as the actor of a write made by this caller.
    public var actor: String {
        switch agent {
        case .key(let id): "api_key:\(id)"
        case .user(let id): "user:\(id.rawValue)"
        }
    }

    /// Throws `forbidden` unless the caller is an admin.
    public func requireAdmin(_ action: String) throws(HushError) {
        guard role == .admin else { throw HushError(.forbidden, "\(action) needs an admin key") }
    }
}

/// A stored key, without its secret.
public struct APIKeyInfo: Sendable, Hashable {
    public let id: Int64
    public let organization: OrganizationID
    public let role: Role
    public let displayPrefix: String
    public let createdAt: Date
    /// When a server last accepted it, to the minute.
    public let lastUsedAt: Date?

    public init(id: Int64, organization: OrganizationID, role: Role, displayPrefix: String, createdAt: Date, lastUsedAt: Date? = nil) {
        self.lastUsedAt = lastUsedAt
        self.id = id
        self.organization = organization
        self.role = role
        self.displayPrefix = displayPrefix
        self.createdAt = createdAt
    }
}
