import Foundation
import HushCore
import Testing
@testable import HushStore

@Suite struct SetupLockTests {
    @Test func storesOpeningOneNewDatabaseAtOnceAllStart() async throws {
        let path = TestStore.temporaryPath()
        let stores = try await withThrowingTaskGroup(of: SQLiteStore.self) { group in
            for _ in 0..<4 { group.addTask { try await TestStore.open(path) } }
            var stores: [SQLiteStore] = []
            for try await store in group { stores.append(store) }
            return stores
        }
        #expect(stores.count == 4)
        _ = try await stores[0].createOrganization(named: "acme")
        for store in stores { try await store.close() }
    }

    @Test func theLockIsHeldByOneAtATimeAndReleasedOnError() async throws {
        let path = TestStore.temporaryPath()
        struct Failure: Error {}
        await #expect(throws: Failure.self) { try await SetupLock.holding(beside: path) { throw Failure() } }
        // Released by the failure: it is taken again at once.
        #expect(try await SetupLock.holding(beside: path) { 2 } == 2)
    }
}
