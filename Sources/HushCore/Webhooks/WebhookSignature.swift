import Crypto
import Foundation

/// A webhook endpoint's signing secret, as Standard Webhooks 1.0 writes it: `whsec_` and the
/// base64 of 24 to 64 random bytes.
public struct WebhookSecret: Hashable, Sendable, CustomStringConvertible {
    public static let prefix = "whsec_"
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(HushError) {
        guard (24...64).contains(bytes.count) else {
            throw .invalid("secret", "a webhook secret has 24 to 64 bytes")
        }
        self.bytes = bytes
    }

    public init(parsing text: String) throws(HushError) {
        guard text.hasPrefix(Self.prefix), let data = Data(base64Encoded: String(text.dropFirst(Self.prefix.count))) else {
            throw .invalid("secret", "a webhook secret is whsec_ followed by base64")
        }
        try self.init(bytes: [UInt8](data))
    }

    public static func generate(byteCount: Int = 32) -> WebhookSecret {
        var generator = SystemRandomNumberGenerator()
        // 32 bytes is within the allowed range, so this cannot fail.
        return try! WebhookSecret(bytes: (0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    public var description: String { Self.prefix + Data(bytes).base64EncodedString() }
}

/// Standard Webhooks 1.0 signatures: `v1,` and the base64 HMAC-SHA256 of
/// `{webhook-id}.{webhook-timestamp}.{body}`; several (during a secret's rotation) are sent
/// space-separated in one `webhook-signature` header.
public enum WebhookSignature {
    public static func sign(id: String, timestamp: Int64, body: [UInt8], secret: WebhookSecret) -> String {
        var signed = Array("\(id).\(timestamp).".utf8)
        signed += body
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: secret.bytes))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The `webhook-signature` header for every secret in force.
    public static func header(id: String, timestamp: Int64, body: [UInt8], secrets: [WebhookSecret]) -> String {
        secrets.map { sign(id: id, timestamp: timestamp, body: body, secret: $0) }.joined(separator: " ")
    }

    /// Whether any signature in the header was made with `secret`, as a receiver checks it.
    public static func verify(header: String, id: String, timestamp: Int64, body: [UInt8], secret: WebhookSecret) -> Bool {
        let expected = Array(sign(id: id, timestamp: timestamp, body: body, secret: secret).utf8)
        return header.split(separator: " ").contains { candidate in
            let given = Array(candidate.utf8)
            return given.count == expected.count && zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }
}
