#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Hands memory back to the system after a large send. A 1 M-recipient send parses, checks and
/// answers a few hundred megabytes; glibc keeps what was freed in its arenas for reuse, so the
/// server's resident memory only grew from send to send (bench/sends.sh: 155 MB before five
/// sends, 471 MB after). `malloc_trim` returns the free pages of every arena. It runs a second
/// after the answer is written, when the send's buffers have been released, once for any number
/// of sends that finish within that second.
///
/// Trimming the allocator is the process's policy, not the library's: `hush serve` turns it on
/// (`enable()`); a library has no business unmapping its host's heap. (The test process once
/// crashed in Foundation's `Process.run()`, swiftlang/swift-corelibs-foundation#5472, with
/// trimming on; it crashed there again with it off, and the tests now start processes without
/// Foundation, `HushTestSupport.Child`.)
public enum MemoryTrim {
    private static let scheduled = Atomic<Bool>(false)
    private static let enabled = Atomic<Bool>(false)

    public static func enable() {
        enabled.store(true, ordering: .relaxed)
    }

    /// glibc's `malloc_trim`, which Swift's Glibc module does not declare (it is in `malloc.h`).
    private typealias Trim = @convention(c) (Int) -> Int32
    #if canImport(Glibc)
    nonisolated(unsafe) private static let trim: Trim? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim")
        .map { unsafeBitCast($0, to: Trim.self) }
    #endif

    static func soon() {
        #if canImport(Glibc)
        guard enabled.load(ordering: .relaxed), let trim, scheduled.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        Task.detached(priority: .background) {
            try? await Task.sleep(for: .seconds(1))
            scheduled.store(false, ordering: .relaxed)
            _ = trim(0)
        }
        #endif
    }
}
