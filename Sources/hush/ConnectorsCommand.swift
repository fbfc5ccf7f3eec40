import ArgumentParser
import Foundation
import HushCore
import HushServer
import HushStore
import Logging

/// `hush connectors`: CRM connectors from the command line, through the same code as the API.
struct Connectors: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage CRM connectors (Dynamics 365, Salesforce): docs/crm.md.",
        subcommands: [List.self, Add.self, Test.self, Sync.self, Status.self, Resync.self])

    /// What every subcommand takes: the database, the organization, and the target check.
    struct Options: ParsableArguments {
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var organization: OrganizationOption
        @Flag(help: "Let connectors reach loopback and private addresses (development, tests). (HUSH_ALLOW_PRIVATE_TARGETS=1)")
        var allowPrivateTargets = false
        @Option(help: "Seconds the CRM has to answer each request, as `hush serve --webhook-timeout`. (HUSH_WEBHOOK_TIMEOUT)")
        var webhookTimeout: Double = ProcessInfo.processInfo.environment["HUSH_WEBHOOK_TIMEOUT"].flatMap(Double.init) ?? 15

        func validate() throws {
            guard webhookTimeout > 0, webhookTimeout <= 300 else { throw ValidationError("--webhook-timeout is 0 to 300 seconds") }
        }

        /// Opens the store (with the index: pushes are worked out from it) and runs `body`.
        func run(_ body: (ConnectorCommands, Organization) async throws -> String) async throws {
            try await database.withStore(loadsIndex: true) { store in
                let organization = try await organization.resolve(in: store)
                let commands = ConnectorCommands(
                    store: store, allowPrivateTargets: allowPrivateTargets || ProcessInfo.processInfo.environment["HUSH_ALLOW_PRIVATE_TARGETS"] == "1",
                    timeout: .milliseconds(Int64(webhookTimeout * 1000)), logger: Logger(label: "hush"))
                do {
                    print(try await body(commands, organization))
                } catch {
                    await commands.shutdown()
                    throw error
                }
                await commands.shutdown()
            }
        }
    }

    /// A run's JSON; a run that did not end `ok` fails the command after printing it.
    static func finished(_ run: (json: String, ok: Bool)) throws -> String {
        guard run.ok else {
            print(run.json)
            throw ExitCode(1)
        }
        return run.json
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The organization's connectors, as JSON.")
        @OptionGroup var options: Options
        func run() async throws {
            try await options.run { commands, organization in try await commands.list(in: organization.id) }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a connector from the JSON body POST /v1/connectors takes, read from standard input (the secret stays out of the shell's history).")
        @OptionGroup var options: Options
        func run() async throws {
            let json = FileHandle.standardInput.readDataToEndOfFile()
            try await options.run { commands, organization in try await commands.add(json: json, in: organization) }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sign in and check every mapped field.")
        @OptionGroup var options: Options
        @Argument(help: "The connector, by id or name.") var connector: String
        func run() async throws {
            try await options.run { commands, organization in try await commands.test(connector, in: organization.id) }
        }
    }

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the connector now; --dry-run changes nothing.")
        @OptionGroup var options: Options
        @Argument(help: "The connector, by id or name.") var connector: String
        @Flag(help: "Read and work everything out; record and write nothing.") var dryRun = false
        func run() async throws {
            try await options.run { commands, organization in
                try await Connectors.finished(try await commands.sync(connector, in: organization.id, dryRun: dryRun))
            }
        }
    }

    struct Resync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read every CRM record again and push Hush's suppressions to each.")
        @OptionGroup var options: Options
        @Argument(help: "The connector, by id or name.") var connector: String
        func run() async throws {
            try await options.run { commands, organization in
                try await Connectors.finished(try await commands.sync(connector, in: organization.id, dryRun: false, full: true))
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "How the connector is doing.")
        @OptionGroup var options: Options
        @Argument(help: "The connector, by id or name.") var connector: String
        func run() async throws {
            try await options.run { commands, organization in try await commands.status(connector, in: organization.id) }
        }
    }
}
