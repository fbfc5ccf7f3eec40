#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HushCore

/// An exclusive lock, across processes, on `<database>.lock`: held while a store migrates and
/// seals, so processes opening one database at the same moment do it one after another.
enum SetupLock {
    /// How long a process waits between tries; never blocks a thread while another migrates.
    static let retryInterval: Duration = .milliseconds(10)

    static func holding<T>(beside databasePath: String, _ body: () async throws -> T) async throws -> T {
        let path = databasePath + ".lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw HushError(.storage, "could not open the lock file \(path) (errno \(errno))") }
        // Closing the descriptor releases the lock, also when `body` throws.
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw HushError(.storage, "could not lock \(path) (errno \(errno))")
            }
            try await Task.sleep(for: retryInterval)
        }
        return try await body()
    }
}
