import Crypto
import Foundation

/// The server secret that turns an erased address into a keyed hash, so the opt-out is still
/// honoured while the address itself is gone.
public struct ErasureKey: Sendable {
    /// Stored keys start with this prefix; no normalized address can.
    public static let prefix = "erased:"

    /// Whether a stored address key is an erased one's hash.
    public static func isErased(_ key: String) -> Bool { key.hasPrefix(prefix) }

    private let secret: [UInt8]
    var secretBytes: [UInt8] { secret }

    /// - Parameter secret: at least 32 bytes of randomness.
    public init(secret: [UInt8]) throws(HushError) {
        guard secret.count >= 32 else {
            throw .invalid("erasure_secret", "the erasure secret needs at least 32 bytes")
        }
        self.secret = secret
    }

    public static func random() -> ErasureKey {
        ErasureKey(validated: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    private init(validated secret: [UInt8]) {
        self.secret = secret
    }

    /// The stored form of an erased address: `erased:` and the hex HMAC-SHA256 of its key.
    public func hashedKey(for normalizedAddress: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(normalizedAddress.utf8), using: SymmetricKey(data: secret))
        var hex = Self.prefix
        hex.reserveCapacity(Self.prefix.utf8.count + 64)
        for byte in mac {
            hex.append(Self.hexDigits[Int(byte >> 4)])
            hex.append(Self.hexDigits[Int(byte & 0x0f)])
        }
        return hex
    }

    private static let hexDigits = Array("0123456789abcdef")
}
