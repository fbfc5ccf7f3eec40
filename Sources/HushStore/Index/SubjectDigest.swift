import HushCore

/// What the index keeps instead of a subject's text: a keyed 128-bit digest (SipHash-2-4 with
/// 128-bit output) of the organization and the subject key. Two subjects of one organization share
/// a digest with probability about n² / 2¹²⁸ for n subjects (below 10⁻²² at a billion), and the key
/// is secret, so no one can choose addresses that collide. A collision could only block a send
/// that should pass, never let one through, and a decision names the address the caller gave.
///
/// The low bit is always set, so a zero digest marks an empty slot (`DigestTable`).
struct SubjectDigest: Hashable, Sendable {
    var high: UInt64
    var low: UInt64

    static let empty = SubjectDigest(high: 0, low: 0)
    var isEmpty: Bool { low == 0 }
}

/// The secret the index digests subjects with: random for each index, and kept in an index
/// snapshot so that the snapshot's digests stay meaningful.
struct DigestKey: Hashable, Sendable {
    let k0: UInt64
    let k1: UInt64

    static func random() -> DigestKey {
        var generator = SystemRandomNumberGenerator()
        return DigestKey(k0: generator.next(), k1: generator.next())
    }

    func digest(_ organization: OrganizationID, _ subject: String) -> SubjectDigest {
        if let digest = subject.utf8.withContiguousStorageIfAvailable({ digest(organization, UnsafeRawBufferPointer($0)) }) {
            return digest
        }
        return Array(subject.utf8).withUnsafeBytes { digest(organization, $0) }
    }

    /// The digest of the organization's id (8 bytes, little-endian) followed by the subject's UTF-8.
    func digest(_ organization: OrganizationID, _ subject: UnsafeRawBufferPointer) -> SubjectDigest {
        let (high, low) = SipHash128.hash(k0: k0, k1: k1, prefix: UInt64(bitPattern: organization.rawValue), subject)
        return SubjectDigest(high: high, low: low | 1)
    }
}

/// SipHash-2-4 with a 128-bit result (Aumasson and Bernstein's reference `siphash.c`, `outlen` 16).
struct SipHash128 {
    private var v0: UInt64
    private var v1: UInt64
    private var v2: UInt64
    private var v3: UInt64

    private init(k0: UInt64, k1: UInt64) {
        v0 = k0 ^ 0x736f_6d65_7073_6575
        v1 = k1 ^ 0x646f_7261_6e64_6f6d ^ 0xee
        v2 = k0 ^ 0x6c79_6765_6e65_7261
        v3 = k1 ^ 0x7465_6462_7974_6573
    }

    /// The hash of `prefix` (when given, as eight little-endian bytes) followed by `bytes`.
    static func hash(k0: UInt64, k1: UInt64, prefix: UInt64?, _ bytes: UnsafeRawBufferPointer) -> (high: UInt64, low: UInt64) {
        var hash = SipHash128(k0: k0, k1: k1)
        if let prefix { hash.block(prefix) }
        let (full, rest) = bytes.count.quotientAndRemainder(dividingBy: 8)
        for index in 0..<full {
            hash.block(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)))
        }
        let length = bytes.count + (prefix == nil ? 0 : 8)
        var last = UInt64(truncatingIfNeeded: length) << 56
        for index in 0..<rest {
            last |= UInt64(bytes[full * 8 + index]) << (8 * index)
        }
        return hash.finish(last)
    }

    @inline(__always)
    private mutating func round() {
        v0 &+= v1; v1 = v1.rotatedLeft(13); v1 ^= v0; v0 = v0.rotatedLeft(32)
        v2 &+= v3; v3 = v3.rotatedLeft(16); v3 ^= v2
        v0 &+= v3; v3 = v3.rotatedLeft(21); v3 ^= v0
        v2 &+= v1; v1 = v1.rotatedLeft(17); v1 ^= v2; v2 = v2.rotatedLeft(32)
    }

    @inline(__always)
    private mutating func block(_ message: UInt64) {
        v3 ^= message
        round()
        round()
        v0 ^= message
    }

    /// Takes the last block (the length in its top byte, the remaining bytes below) and returns
    /// the two halves: the first eight bytes of the reference output are `low`.
    private mutating func finish(_ last: UInt64) -> (high: UInt64, low: UInt64) {
        block(last)
        v2 ^= 0xee
        round(); round(); round(); round()
        let low = v0 ^ v1 ^ v2 ^ v3
        v1 ^= 0xdd
        round(); round(); round(); round()
        return (v0 ^ v1 ^ v2 ^ v3, low)
    }
}

extension UInt64 {
    @inline(__always)
    fileprivate func rotatedLeft(_ count: UInt64) -> UInt64 {
        (self << count) | (self >> (64 - count))
    }
}
