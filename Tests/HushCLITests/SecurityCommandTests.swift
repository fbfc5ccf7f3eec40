import Foundation
import HushCore
import HushStore
import HushTestSupport
import Testing

/// The command line's share of the security work: keys, erasure, held opt-outs, retired link keys.
@Suite(.everyBackend) struct SecurityCommandTests {
    @Test func keysAreListedWithoutSecretsAndRevoked() async throws {
        let cli = try await CLI()
        try await cli.run(["orgs", "create", "default"])
        let member = try await cli.run(["keys", "create", "--role", "member"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let inbound = try await cli.run(["keys", "create", "--role", "inbound"])
        #expect(inbound.status == 0)
        let listed = try await cli.run(["keys", "list"])
        #expect(listed.status == 0)
        #expect(!listed.stdout.contains(member), "never the key")
        #expect(listed.stdout.contains("\tmember\t\(member.prefix(11))\t"))
        #expect(listed.stdout.contains("\tinbound\t"))
        let id = try #require(listed.stdout.split(separator: "\n").first { $0.contains("\tmember\t") }?.split(separator: "\t").first)
        #expect(try await cli.run(["keys", "revoke", String(id)]).stdout == "revoked key \(id)\n")
        #expect(try await cli.run(["keys", "revoke", String(id)]).status != 0)
        #expect(!(try await cli.run(["keys", "list"]).stdout.contains("\tmember\t")))
    }

    @Test func aHeldOptOutAndAnErasureFromTheCommandLine() async throws {
        let cli = try await CLI()
        try await cli.run(["orgs", "create", "default"])
        let held = try await cli.run(["opt-out", "+14155550100", "--channel", "sms", "--hold"])
        #expect(held.stdout.hasPrefix("opted out +14155550100 (held)"), "\(held.stdout)\(held.stderr)")
        let erased = try await cli.run(["erase", "+1 415 555 0100"])
        #expect(erased.stdout == "erased; 1 opt-outs still honoured by hash\n", "\(erased.stderr)")
        #expect(try await cli.run(["erase", "+14155550100"]).stdout.hasPrefix("nothing to erase"))
        let store = try await cli.store()
        let organization = try #require(try await store.organization(named: "default"))
        let suppressions = try await store.suppressions(of: try Address(parsing: "+14155550100"), in: organization.id)
        #expect(suppressions.count == 1 && suppressions[0].hold)
        #expect(suppressions[0].subject.description.hasPrefix(ErasureKey.prefix))
        try await store.close()
        for suffix in ["", "-wal", ".erasure-key", ".secret-key"] where FileManager.default.fileExists(atPath: cli.database + suffix) {
            let attributes = try FileManager.default.attributesOfItem(atPath: cli.database + suffix)
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(suffix)")
        }
    }

    @Test func aRetiredLinkKeySignsNothingMore() async throws {
        let cli = try await CLI()
        try await cli.run(["orgs", "create", "default"])
        let rotated = try await cli.run(["link-keys", "rotate"])
        let first = rotated.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        let retired = try await cli.run(["link-keys", "retire", first])
        #expect(retired.stdout == "retired link key \(first)\n", "rotate: \(rotated.status) \(rotated.stderr); retire: \(retired.stderr)")
        #expect(try await cli.run(["link-keys", "retire", first]).status != 0)
        let store = try await cli.store(loadsIndex: false)
        let keys = try await store.linkKeys()
        #expect(keys.first { $0.id == first }?.retired == true)
        #expect(keys.contains { !$0.retired }, "another key signs")
        try await store.close()
    }
}
