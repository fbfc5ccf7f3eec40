import Crypto
import Foundation

/// What a link in a message carries: who it was sent to, by whom and for what, so a click can
/// be acted on without a login and without a database lookup.
public struct LinkClaims: Hashable, Sendable, Codable {
    public enum Purpose: String, Hashable, Sendable, Codable {
        /// An unsubscribe link (`/u/…`): one-click and the preference center.
        case unsubscribe = "u"
        /// A confirmation link for a pending opt-in (`/c/…`).
        case confirm = "c"
    }

    public var purpose: Purpose
    public var organization: Int64
    /// The normalized address.
    public var address: String
    public var contact: String?
    public var channel: String
    public var scope: String
    public var list: Int64?
    public var campaign: String?
    /// Unix seconds.
    public var issuedAt: Int64
    /// The pending opt-in a confirmation link confirms.
    public var request: Int64?

    enum CodingKeys: String, CodingKey {
        case purpose = "p", organization = "o", address = "a", contact = "k", channel = "ch", scope = "s", list = "l"
        case campaign = "cp", issuedAt = "t", request = "r"
    }

    public init(
        purpose: Purpose, organization: Int64, address: String, contact: String? = nil, channel: String, scope: String,
        list: Int64? = nil, campaign: String? = nil, issuedAt: Int64, request: Int64? = nil
    ) {
        self.purpose = purpose
        self.organization = organization
        self.address = address
        self.contact = contact
        self.channel = channel
        self.scope = scope
        self.list = list
        self.campaign = campaign
        self.issuedAt = issuedAt
        self.request = request
    }
}

/// A secret links are signed with, named by an id so keys can rotate: new links use the newest
/// key, and links signed with older keys keep working until their key is retired.
public struct LinkKey: Hashable, Sendable {
    public let id: String
    public let secret: [UInt8]
    /// A retired key signs nothing and verifies nothing: its links show the expired page.
    public var retired: Bool

    public init(id: String, secret: [UInt8], retired: Bool = false) {
        self.id = id
        self.secret = secret
        self.retired = retired
    }

    public static func generate() -> LinkKey {
        let secret = SymmetricKey(size: .bits256).withUnsafeBytes { [UInt8]($0) }
        let id = SymmetricKey(size: .init(bitCount: 64)).withUnsafeBytes { Data($0) }.base64URLEncoded()
        return LinkKey(id: id, secret: secret)
    }
}

/// Signs and reads link tokens: `v1.<key id>.<claims, base64url JSON>.<HMAC-SHA256, base64url>`.
/// Every part is URL-safe. A token that was altered, cut short, or signed with a key this
/// installation does not hold is refused.
public struct LinkSigner: Sendable {
    public static let version = "v1"
    private let keys: [String: LinkKey]
    private let retired: Set<String>
    private let active: LinkKey

    /// `keys` newest first: the first that is not retired signs.
    public init(keys: [LinkKey]) throws(HushError) {
        guard let first = keys.first(where: { !$0.retired }) else { throw HushError(.storage, "no link signing key") }
        active = first
        self.keys = Dictionary(keys.filter { !$0.retired }.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        retired = Set(keys.filter(\.retired).map(\.id))
    }

    public func sign(_ claims: LinkClaims) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let payload = ((try? encoder.encode(claims)) ?? Data()).base64URLEncoded()
        let signed = "\(Self.version).\(active.id).\(payload)"
        return signed + "." + Self.mac(signed, key: active).base64URLEncoded()
    }

    /// The claims of a valid token, and the token's id (its signature's first characters, safe
    /// to record as evidence).
    public func verify(_ token: String) throws(HushError) -> (claims: LinkClaims, tokenID: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == Self.version else {
            throw .invalid("token", "this link is not complete; copy the whole link from the message")
        }
        guard let key = keys[String(parts[1])] else {
            if retired.contains(String(parts[1])) {
                throw HushError(.expired, field: "token", "this link has expired; ask the sender for a new one")
            }
            throw .invalid("token", "this link was not issued by this service")
        }
        let signed = parts[0...2].joined(separator: ".")
        // Only the canonical spelling: another one that decodes to the same bytes is refused.
        guard let signature = Data(base64URLEncoded: String(parts[3])), signature.base64URLEncoded() == parts[3],
              HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Data(signed.utf8), using: SymmetricKey(data: key.secret))
        else {
            throw .invalid("token", "this link has been altered or cut short; copy the whole link from the message")
        }
        guard let payload = Data(base64URLEncoded: String(parts[2])), payload.base64URLEncoded() == parts[2],
              let claims = try? JSONDecoder().decode(LinkClaims.self, from: payload)
        else {
            throw .invalid("token", "this link cannot be read")
        }
        return (claims, String(parts[3].prefix(16)))
    }

    /// A value bound to one link, for forms the link's pages post back (CSRF protection).
    public func formToken(for tokenID: String) -> String {
        Self.mac("form." + tokenID, key: active).base64URLEncoded()
    }

    public func isValidFormToken(_ value: String, for tokenID: String) -> Bool {
        keys.values.contains { key in
            guard let given = Data(base64URLEncoded: value) else { return false }
            return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Data(("form." + tokenID).utf8), using: SymmetricKey(data: key.secret))
        }
    }

    private static func mac(_ text: String, key: LinkKey) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: SymmetricKey(data: key.secret)))
    }
}

extension Data {
    /// Base64url without padding (RFC 4648 §5).
    public func base64URLEncoded() -> String {
        base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public init?(base64URLEncoded text: String) {
        guard text.utf8.allSatisfy({ $0 < 0x80 && $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "=") }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        self.init(base64Encoded: base64)
    }
}
