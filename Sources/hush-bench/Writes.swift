import Foundation
import HushCore
import HushStore

/// Durable opt-out writes: each acknowledged write is committed with `synchronous = FULL`.
struct Writes<Backend: Store> {
    let store: Backend
    let organization: OrganizationID
    /// `writes.single`, `writes.concurrent` or `writes.batch` for one kind; otherwise all three.
    var only: String?

    /// Whether `only` names the writes or one kind of them.
    static func selected(by only: String?) -> Bool {
        only == "writes" || only?.hasPrefix("writes.") == true
    }

    private func runs(_ kind: String) -> Bool {
        only?.hasPrefix("writes.") != true || only == "writes.\(kind)"
    }

    func run() async throws {
        let run = UUID().uuidString.prefix(8).lowercased()
        // HUSH_BENCH_WRITES: how many single writes each of the first two kinds makes (2 000).
        let single = ProcessInfo.processInfo.environment["HUSH_BENCH_WRITES"].flatMap { Int($0) } ?? 2_000
        if runs("single") { try await singles(single, run: run) }
        if runs("concurrent") { try await concurrent(single, run: run) }
        if runs("batch") { try await batches(run: run) }
    }

    private func singles(_ single: Int, run: String) async throws {
        let singleTime = try await measure {
            for i in 0..<single {
                _ = try await store.record(optOut("s\(i)-\(run)@writes.example"), in: organization)
            }
        }
        report("durable single writes/s, one writer", perSecond(single, singleTime))
    }

    private func concurrent(_ single: Int, run: String) async throws {
        let writers = 16
        let concurrentTime = try await measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for i in 0..<(single / writers) {
                            _ = try await store.record(optOut("c\(writer)-\(i)-\(run)@writes.example"), in: organization)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        report("durable single writes/s, \(writers) writers", perSecond(single, concurrentTime))
    }

    private func batches(run: String) async throws {
        let batchSize = 10_000
        let batches = 10
        let prepared = try (0..<batches).map { b in
            try (0..<batchSize).map { i in try optOut("b\(b)-\(i)-\(run)@writes.example") }
        }
        let batchTime = try await measure {
            for batch in prepared {
                _ = try await store.record(batch, in: organization)
            }
        }
        report("durable batch writes/s (10k per batch)", perSecond(batches * batchSize, batchTime))

        // Several callers with a batch each in flight, as an import job or CRM sync with a few
        // workers sends them: one batch's preparation overlaps another's time in the database.
        let writers = 4
        let inFlight = try (0..<writers).map { w in
            try (0..<batches / 2).map { b in
                try (0..<batchSize).map { i in try optOut("bw\(w)-\(b)-\(i)-\(run)@writes.example") }
            }
        }
        let concurrentTime = try await measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for batches in inFlight {
                    group.addTask {
                        for batch in batches { _ = try await store.record(batch, in: organization) }
                    }
                }
                try await group.waitForAll()
            }
        }
        report("durable batch writes/s, \(writers) writers (10k)", perSecond(writers * batches / 2 * batchSize, concurrentTime))
    }

    private func optOut(_ address: String) throws -> OptOut {
        OptOut(subject: .address(try Address(parsing: address)), channel: .only(.email), source: .api, actor: "bench")
    }
}
