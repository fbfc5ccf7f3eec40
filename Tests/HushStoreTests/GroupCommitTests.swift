import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

@Suite(.everyBackend) struct GroupCommitTests {
    @Test func concurrentWritersEachGetTheirOwnOutcome() async throws {
        let test = try await TestStore()
        let results = await withTaskGroup(of: (Int, Bool).self) { group in
            for i in 0..<32 {
                group.addTask {
                    // Every eighth request is bad: a phone number on the email channel.
                    let address = i % 8 == 0 ? "+1415555\(String(format: "%04d", i))" : "w\(i)@example.com"
                    let outcome = try? await test.optOut(address, "email")
                    return (i, outcome != nil)
                }
            }
            return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        for i in 0..<32 {
            #expect(results[i] == (i % 8 != 0), "request \(i)")
        }
        #expect(test.store.indexedCount == 28)
        #expect(try await test.store.events(in: test.id, after: 0, limit: 100, address: nil).count == 28)
        #expect(try test.isBlocked("w31@example.com"))
    }
}
