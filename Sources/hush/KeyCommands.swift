import ArgumentParser
import Foundation
import HushCore
import HushServer
import HushStore

extension Keys {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the organization's keys: id, role, prefix, created, last used. Never the keys.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var organization: OrganizationOption

        func run() async throws {
            let keys = try await database.withStore { store in
                try await store.keys(in: try await organization.resolve(in: store).id)
            }
            let formatter = ISO8601DateFormatter()
            print("id\trole\tprefix\tcreated\tlast_used")
            for key in keys {
                print("\(key.id)\t\(key.role.rawValue)\t\(key.displayPrefix)\t\(formatter.string(from: key.createdAt))\t\(key.lastUsedAt.map(formatter.string) ?? "-")")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: every server on the database refuses it within a second.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var organization: OrganizationOption
        @Argument(help: "The key's id (hush keys list).") var id: Int64

        func run() async throws {
            let revoked = try await database.withStore { store in
                try await store.revokeKey(id, in: try await organization.resolve(in: store).id)
            }
            guard revoked else { throw ValidationError("no unrevoked key \(id) in this organization") }
            print("revoked key \(id)")
        }
    }
}

struct EraseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erase",
        abstract: "Erase an address: only a keyed hash stays, so its opt-outs are still honoured.")
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var organization: OrganizationOption
    @Argument(help: "An email address or a phone number.") var address: String

    func run() async throws {
        let (erased, held) = try await database.withStore { store in
            let organization = try await organization.resolve(in: store)
            let parsed = try Address(parsing: address, region: organization.settings.defaultRegion)
            let erased = try await store.erase(parsed, in: organization.id)
            return (erased, try await store.suppressions(of: parsed, in: organization.id).count)
        }
        print(erased ? "erased; \(held) opt-outs still honoured by hash" : "nothing to erase; \(held) opt-outs honoured by hash")
    }
}

extension LinkKeys {
    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Retire a link key: links signed with it show the expired page (on a running server within a minute).")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The key's id, as `hush link-keys rotate` printed it.") var id: String

        func run() async throws {
            let retired = try await database.withStore { store in try await store.retireLinkKey(id) }
            guard retired else { throw ValidationError("no link key \(id) in use") }
            print("retired link key \(id)")
        }
    }
}

/// `hush users`: console users (docs/console.md).
struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage console users: people who sign in at /console.", subcommands: [Create.self, List.self, Disable.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a console user. The password comes from standard input with --password-stdin; without it one is generated and printed once.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var organization: OrganizationOption
        @Option(help: "The user's email; one user per email in the whole database.") var email: String
        @Option(help: "admin or member (the API's meaning).") var role: String
        @Flag(help: "Read the password (its first line) from standard input.") var passwordStdin = false

        func run() async throws {
            var password: String?
            if passwordStdin {
                password = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                    .split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            }
            let output = try await database.withStore { store in
                try await UserCommands(store: store).create(email: email, role: role, password: password, in: try await organization.resolve(in: store).id)
            }
            print(output)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the organization's console users. Never their passwords.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var organization: OrganizationOption

        func run() async throws {
            print(try await database.withStore { store in try await UserCommands(store: store).list(in: try await organization.resolve(in: store).id) })
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a console user (by id or email); their sessions end at once.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var organization: OrganizationOption
        @Argument(help: "The user's id or email.") var user: String

        func run() async throws {
            print(try await database.withStore { store in try await UserCommands(store: store).disable(user, in: try await organization.resolve(in: store).id) })
        }
    }
}
