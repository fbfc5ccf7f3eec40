import Foundation
import HushCore
import Testing
@testable import HushStore

/// The store's moment-long cache of organizations and lists: this process's own changes clear it
/// at once, including one that lands while a load is reading the database.
@Suite struct DirectoryCacheTests {
    static let id = OrganizationID(rawValue: 1)

    static func organization(region: String) throws -> Organization {
        Organization(
            id: id, name: "acme", settings: OrganizationSettings(defaultRegion: try #require(Region(code: region))), defaultList: ListID(rawValue: 1))
    }

    @Test func aLoadReadBeforeAChangeIsNotKeptAfterIt() async throws {
        let cache = DirectoryCache(now: { Date(timeIntervalSince1970: 1_000) })
        let before = try Self.organization(region: "GB")
        // The load reads the organization as it was, then the change commits and clears the cache.
        let answered = try await cache.organization(Self.id) {
            cache.forget(Self.id)
            return before
        }
        #expect(answered == before)
        #expect(cache.cachedOrganization(Self.id) == nil, "the value read before the change is not kept")

        let after = try Self.organization(region: "US")
        #expect(try await cache.organization(Self.id) { after } == after)
        #expect(cache.cachedOrganization(Self.id) == after)
    }
}
