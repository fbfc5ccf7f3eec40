import Foundation
import HushCore
import HushStore
import HushTestSupport
import Testing

/// `hush users`: console users from the command line, by the rules `/v1/users` follows.
@Suite(.everyBackend) struct UserCommandTests {
    @Test func usersAreCreatedListedAndDisabled() async throws {
        let cli = try await CLI()
        #expect(try await cli.run(["orgs", "create", "acme"]).status == 0)
        let creating = try cli.start(["users", "create", "--org", "acme", "--email", "Ann@Example.com", "--role", "admin", "--password-stdin"])
        try creating.input.fileHandleForWriting.write(contentsOf: Data("correct horse battery\n".utf8))
        try creating.input.fileHandleForWriting.close()
        let created = await creating.finish().stdout
        #expect(creating.process.terminationStatus == 0 && created.hasPrefix("created admin ann@example.com"), "\(created)")
        #expect(!created.contains("password"), "a password given is never printed")

        let generated = try await cli.run(["users", "create", "--org", "acme", "--email", "bob@example.com", "--role", "member"])
        #expect(generated.status == 0)
        let password = try #require(generated.stdout.split(separator: "\n").first { $0.hasPrefix("password (shown once): ") }?.dropFirst(23))
        #expect(password.count >= 24)

        let refused = try await cli.run(["users", "create", "--org", "acme", "--email", "ann@example.com", "--role", "admin"])
        #expect(refused.status != 0 && refused.stderr.contains("email"), "one user per email: \(refused.stderr)")
        #expect(try await cli.run(["users", "create", "--org", "acme", "--email", "eve@example.com", "--role", "inbound"]).status != 0)

        let listed = try await cli.run(["users", "list", "--org", "acme"])
        #expect(listed.stdout.contains("\tann@example.com\tadmin\t") && listed.stdout.contains("\tbob@example.com\tmember\t"))
        #expect(!listed.stdout.contains(String(password)))

        #expect(try await cli.run(["users", "disable", "bob@example.com", "--org", "acme"]).stdout.hasPrefix("disabled user"))
        #expect(try await cli.run(["users", "disable", "bob@example.com", "--org", "acme"]).status != 0, "already disabled")
        let store = try await cli.store(loadsIndex: false)
        let organization = try #require(try await store.organization(named: "acme"))
        let users = try await store.users(in: organization.id)
        #expect(users.first { $0.email == "bob@example.com" }?.disabledAt != nil)
        #expect(users.first { $0.email == "ann@example.com" }?.disabledAt == nil)
        try await store.close()
    }
}
