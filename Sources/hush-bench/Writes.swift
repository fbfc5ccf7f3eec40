import Foundation
import HushCore
import HushStore

/// Durable opt-out writes: each acknowledged write is committed with `synchronous = FULL`.
struct Writes<Backend: Store> {
    let store: Backend
    let organization: OrganizationID

    func run() async throws {
        let run = UUID().uuidString.prefix(8).lowercased()
        let single = 2_000
        let singleTime = try await measure {
            for i in 0..<single {
                _ = try await store.record(optOut("s\(i)-\(run)@writes.example"), in: organization)
            }
        }
        report("durable single writes/s, one writer", perSecond(single, singleTime))

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
    }

    private func optOut(_ address: String) throws -> OptOut {
        OptOut(subject: .address(try Address(parsing: address)), channel: .only(.email), source: .api, actor: "bench")
    }
}
