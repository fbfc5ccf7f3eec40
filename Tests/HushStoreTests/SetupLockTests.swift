import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

@Suite(.sqliteOnly) struct SetupLockTests {
    @Test func storesOpeningOneNewDatabaseAtOnceAllStart() async throws {
        let database = try await Backend.sqlite.newDatabase()
        let stores = try await withThrowingTaskGroup(of: (any Store).self) { group in
            for _ in 0..<4 { group.addTask { try await TestStore.open(database) } }
            var stores: [any Store] = []
            for try await store in group { stores.append(store) }
            return stores
        }
        #expect(stores.count == 4)
        _ = try await stores[0].createOrganization(named: "acme")
        for store in stores { try await store.close() }
    }

    @Test func theLockIsHeldByOneAtATimeAndReleasedOnError() async throws {
        let path = try await Backend.sqlite.newDatabase().location
        struct Failure: Error {}
        await #expect(throws: Failure.self) { try await SetupLock.holding(beside: path) { throw Failure() } }
        // Released by the failure: it is taken again at once.
        #expect(try await SetupLock.holding(beside: path) { 2 } == 2)
    }
}
