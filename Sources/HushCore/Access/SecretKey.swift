import Crypto
import Foundation

/// The key Hush's own secrets are stored under (webhook signing secrets, the Twilio auth token,
/// link signing keys): AES-256-GCM, kept outside the database like the erasure key
/// (`HUSH_SECRET_KEY` or `<database>.secret-key`). A stored secret is `enc:v1:` and the base64
/// of nonce, ciphertext and tag; anything without the prefix was stored before encryption and
/// reads as it is until it is sealed.
public struct SecretKey: Sendable {
    public static let prefix = "enc:v1:"
    private let bytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: bytes) }

    /// - Parameter bytes: 32 random bytes.
    public init(bytes: [UInt8]) throws(HushError) {
        guard bytes.count == 32 else { throw .invalid("secret_key", "the secret key is 32 bytes (64 hexadecimal digits)") }
        self.bytes = bytes
    }

    /// A key derived from the erasure key (HKDF-SHA256), for stores opened without one of their own.
    public init(derivedFrom erasureKey: ErasureKey) {
        bytes = erasureKey.derivedKey(label: "hush secrets at rest v1").withUnsafeBytes { Array($0) }
    }

    public static func random() -> SecretKey {
        SecretKey(validated: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    private init(validated bytes: [UInt8]) {
        self.bytes = bytes
    }

    public func seal(_ plaintext: [UInt8]) -> [UInt8] {
        // AES-GCM sealing fails only for a key of the wrong size, which `init` rules out.
        guard let combined = try? AES.GCM.seal(plaintext, using: key).combined else { return plaintext }
        return Array((Self.prefix + combined.base64EncodedString()).utf8)
    }

    /// The plaintext of a sealed value; a value without the prefix is returned as it is.
    public func open(_ stored: [UInt8]) throws(HushError) -> [UInt8] {
        let prefix = Array(Self.prefix.utf8)
        guard stored.starts(with: prefix) else { return stored }
        guard let combined = Data(base64Encoded: String(decoding: stored.dropFirst(prefix.count), as: UTF8.self)),
              let box = try? AES.GCM.SealedBox(combined: combined),
              let plaintext = try? AES.GCM.open(box, using: key)
        else {
            throw HushError(.storage, "a stored secret cannot be read with this secret key (HUSH_SECRET_KEY or <database>.secret-key)")
        }
        return Array(plaintext)
    }

    public static func isSealed(_ stored: [UInt8]) -> Bool {
        stored.starts(with: Array(prefix.utf8))
    }
}

extension ErasureKey {
    /// A key for another purpose, derived from this one.
    func derivedKey(label: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secretBytes), info: Array(label.utf8), outputByteCount: 32)
    }
}
