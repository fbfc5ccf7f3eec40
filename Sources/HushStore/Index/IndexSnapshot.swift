import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HushCore

/// The index written to a file at a feed position, so that a restart reads it back instead of
/// loading every suppression from the database, then replays the ledger's tail from there.
///
/// A snapshot is used only when it matches the database: its `marks` (the rows at its position
/// in each stream, the first ledger row and the schema's version, as `ChangeFeed.marks(at:)`
/// reads them) must equal the database's now. A database restored from a backup, another
/// database, or one migrated since does not match, and the snapshot is ignored, never trusted; so
/// is a file that is cut short or whose checksum fails. Changes made to the database by other
/// means than Hush's (a hand edit of the projection) are not seen: remove the file after one.
///
/// Layout (little-endian): a header (magic, version, digest key, position, marks, shard count,
/// entry count), the scopes in number order, the organizations with erasures, every shard's
/// links and then its table's slots as they lie in memory, and a checksum of all before it.
enum IndexSnapshot {
    private static let magic: UInt64 = 0x3158_4449_4853_5548 // "HUSHIDX1"
    private static let version: UInt32 = 1

    /// Writes `index` at `position` to `path` (through a temporary file renamed over it, with its
    /// data synced first, mode 0600: it holds the digest key).
    static func write(_ index: SuppressionIndex, position: FeedPosition, marks: String, to path: String) throws {
        // Its own name per process: two processes on one database may close at once.
        let temporary = path + ".partial-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw HushError(.storage, "could not write the index snapshot \(temporary)") }
        var output = SnapshotOutput(descriptor: descriptor)
        do {
            output.integer(magic)
            output.integer(version)
            output.integer(index.digestKey.k0)
            output.integer(index.digestKey.k1)
            for stream in [position.ledger, position.links, position.erasures] { output.integer(stream) }
            output.string(marks)
            try index.write(to: &output)
            try output.finish()
            guard fsync(descriptor) == 0 else { throw HushError(.storage, "could not sync the index snapshot") }
            close(descriptor)
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else { throw HushError(.storage, "could not rename the index snapshot into \(path)") }
        syncDirectory(of: path)
    }

    /// Removes a snapshot (an erasure's doing), durably.
    static func remove(_ path: String) {
        if unlink(path) == 0 { syncDirectory(of: path) }
    }

    /// Removes what writes cut short by a crash left (`<path>.partial-<pid>`): they may hold
    /// what an erasure has since removed.
    static func removeUnfinished(beside path: String) {
        let url = URL(fileURLWithPath: path)
        let prefix = url.lastPathComponent + ".partial-"
        let folder = url.deletingLastPathComponent()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasPrefix(prefix) {
            unlink(folder.appendingPathComponent(name).path)
        }
    }

    /// A rename or removal lasts through a power loss only once its folder is synced.
    private static func syncDirectory(of path: String) {
        let folder = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY)
        guard folder >= 0 else { return }
        fsync(folder)
        close(folder)
    }

    /// The index and its position from `path`, when the file is whole and `marks` gives, for
    /// the snapshot's position, what it recorded; otherwise nil and why.
    static func read(
        from path: String, erasureKey: ErasureKey, marks: (FeedPosition) async throws -> String
    ) async throws -> (index: SuppressionIndex, position: FeedPosition)? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var input = SnapshotInput(descriptor: descriptor)
        guard try input.integer(UInt64.self) == magic, try input.integer(UInt32.self) == version else { return nil }
        let key = try DigestKey(k0: input.integer(UInt64.self), k1: input.integer(UInt64.self))
        let position = try FeedPosition(ledger: input.integer(Int64.self), links: input.integer(Int64.self), erasures: input.integer(Int64.self))
        let recorded = try input.string()
        guard try await marks(position) == recorded else { return nil }
        let index = try SuppressionIndex(reading: &input, erasureKey: erasureKey, digestKey: key)
        guard try input.verify() else { return nil }
        return (index, position)
    }
}

/// A 64-bit checksum of everything written or read, eight bytes at a time: it finds a file cut
/// short or damaged, not a forgery (whoever can write the file can write the database).
struct SnapshotChecksum {
    private(set) var value: UInt64 = 0x9e37_79b9_7f4a_7c15
    private var pending: [UInt8] = []

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var bytes = bytes[...]
        while !pending.isEmpty, let byte = bytes.first {
            pending.append(byte)
            bytes = bytes.dropFirst()
            if pending.count == 8 {
                mix(pending.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
                pending.removeAll(keepingCapacity: true)
            }
        }
        let words = bytes.count / 8
        let base = UnsafeRawBufferPointer(rebasing: bytes)
        for word in 0..<words { mix(base.loadUnaligned(fromByteOffset: word * 8, as: UInt64.self)) }
        pending.append(contentsOf: base[(words * 8)...])
    }

    @inline(__always)
    private mutating func mix(_ word: UInt64) {
        value = (value ^ word) &* 0x0000_0100_0000_01b3
        value ^= value >> 29
    }

    var final: UInt64 {
        var copy = self
        copy.mix(UInt64(pending.count))
        for byte in pending { copy.mix(UInt64(byte)) }
        return copy.value
    }
}

/// Buffered writes to a file descriptor, checksummed.
struct SnapshotOutput {
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private var checksum = SnapshotChecksum()

    init(descriptor: Int32) {
        self.descriptor = descriptor
        buffer.reserveCapacity(1 << 16)
    }

    mutating func integer<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }

    mutating func string(_ value: String) {
        integer(UInt32(value.utf8.count))
        buffer.append(contentsOf: value.utf8)
    }

    /// Writes `bytes` as they are (a table's slots), after what is buffered.
    mutating func raw(_ bytes: UnsafeRawBufferPointer) throws {
        try flush()
        checksum.add(bytes)
        try Self.write(bytes, to: descriptor)
    }

    mutating func finish() throws {
        try flush()
        var final = checksum.final.littleEndian
        try withUnsafeBytes(of: &final) { try Self.write($0, to: descriptor) }
    }

    private mutating func flush() throws {
        try buffer.withUnsafeBytes { bytes in
            checksum.add(bytes)
            try Self.write(bytes, to: descriptor)
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private static func write(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) throws {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, min(bytes.count - offset, 1 << 30))
            guard written > 0 else { throw HushError(.storage, "could not write the index snapshot (errno \(errno))") }
            offset += written
        }
    }
}

/// Reads from a file descriptor, checksummed; running out of bytes is an error.
struct SnapshotInput {
    private let descriptor: Int32
    private var checksum = SnapshotChecksum()
    /// Bytes of the file not read yet: a damaged size is refused before anything that large is
    /// made for it.
    private(set) var remaining: Int

    init(descriptor: Int32) {
        self.descriptor = descriptor
        var status = stat()
        remaining = fstat(descriptor, &status) == 0 ? Int(status.st_size) : 0
    }

    mutating func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        var value = T.zero
        try withUnsafeMutableBytes(of: &value) { try raw($0) }
        return T(littleEndian: value)
    }

    mutating func string() throws -> String {
        let count = Int(try integer(UInt32.self))
        guard count <= 1 << 20 else { throw HushError(.storage, "the index snapshot holds a string of \(count) bytes") }
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try raw($0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Fills `bytes` from the file.
    mutating func raw(_ bytes: UnsafeMutableRawBufferPointer) throws {
        guard bytes.count <= remaining else { throw HushError(.storage, "the index snapshot ends early") }
        remaining -= bytes.count
        var offset = 0
        while offset < bytes.count {
            let got = read(descriptor, bytes.baseAddress! + offset, min(bytes.count - offset, 1 << 30))
            guard got > 0 else { throw HushError(.storage, "the index snapshot ends early") }
            offset += got
        }
        checksum.add(UnsafeRawBufferPointer(bytes))
    }

    /// Whether the checksum at the end matches what was read, and nothing follows it.
    mutating func verify() throws -> Bool {
        let expected = checksum.final
        var stored: UInt64 = 0
        var offset = 0
        while offset < 8 {
            let got = withUnsafeMutableBytes(of: &stored) { read(descriptor, $0.baseAddress! + offset, 8 - offset) }
            guard got > 0 else { return false }
            offset += got
        }
        var extra: UInt8 = 0
        return UInt64(littleEndian: stored) == expected && read(descriptor, &extra, 1) == 0
    }
}
