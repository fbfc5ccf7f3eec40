import Foundation
import HushCore
import HushStore
import HushTestSupport
import Testing

/// `hush import` stages its rows while it reads them and takes the write lock only for one
/// short commit at the end, so another process (a server) on the same database keeps writing.
@Suite(.everyBackend) struct ImportCLITests {
    @Test func anotherProcessWritesWhileAnImportReadsItsRows() async throws {
        let cli = try await CLI()
        try await cli.run(["orgs", "create", "default"])
        // A FIFO: the import reads the rows as the test writes them, so the test knows it is
        // mid-file, between chunks it has staged and chunks it has not read yet.
        let path = cli.folder.appendingPathComponent("rows.csv").path
        #expect(mkfifo(path, 0o600) == 0)
        let running = try cli.start(["import", path, "--channel", "email"])
        let fifo = try await aside { try #require(FileHandle(forWritingAtPath: path)) }
        let half = 30_000
        let first = Data(("address\n" + (0..<half).map { "reading\($0)@example.com\n" }.joined()).utf8)
        let second = Data(((half..<(2 * half)).map { "reading\($0)@example.com\n" }.joined() + "during@example.com\n").utf8)
        try await aside { try fifo.write(contentsOf: first) }

        // The import has read most of the first half (a pipe holds 64 KiB) and waits for more.
        let store = try await cli.store(loadsIndex: false)
        let organization = try #require(try await store.organization(named: "default"))
        let during = try Address(parsing: "during@example.com")
        let outcome = try await store.record(
            OptOut(subject: .address(during), channel: .only(.email), source: .api, actor: "server"), in: organization.id)
        #expect(outcome.events.count == 1, "a write commits while the import is reading: it holds no lock yet")
        #expect(running.process.isRunning)

        try await aside {
            try fifo.write(contentsOf: second)
            try fifo.close()
        }
        let (status, output) = await aside {
            running.process.waitUntilExit()
            return (running.process.terminationStatus, String(decoding: PipeReading.all(running.output.fileHandleForReading), as: UTF8.self))
        }
        #expect(status == 0)
        #expect(output == "imported \(2 * half + 1) opt-outs: \(2 * half) new, 1 already in force\n")
        let events = try await store.events(in: organization.id, after: 0, limit: 2, address: nil)
        #expect(events.first?.actor == "server", "the server's opt-out came first: the import's commit followed it")
        #expect(events.dropFirst().first?.evidence.fields["line"] == .number(2))
        try await store.close()
        if Backend.current == .sqlite {
            let left = try FileManager.default.contentsOfDirectory(atPath: cli.folder.path).filter { $0.contains(".import-") }
            #expect(left.isEmpty, "the staging file is removed: \(left)")
        }
    }

    /// Runs blocking work (a FIFO's open and writes, a process's wait) on a thread of its own,
    /// not on the cooperative pool the store needs meanwhile.
    private func aside<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }

    private func aside<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: work()) }
        }
    }
}
