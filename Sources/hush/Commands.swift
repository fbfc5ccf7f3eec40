import ArgumentParser
import Foundation
import HushCore
import HushStore

/// The organization a command acts in.
struct OrganizationOption: ParsableArguments {
    @Option(help: "The organization, by name.") var org: String = "default"

    func resolve(in store: any AccessStore) async throws -> Organization {
        guard let organization = try await store.organization(named: org) else {
            throw ValidationError("no organization named \"\(org)\"")
        }
        return organization
    }
}

/// The actor the ledger names for writes made from the command line.
let commandLineActor = "cli:\(ProcessInfo.processInfo.environment["USER"] ?? "unknown")"

extension Directory {
    /// The active list named by id, name or a name it had before.
    func listID(_ reference: String, in organization: OrganizationID) async throws -> OptOutList {
        let lists = try await lists(in: organization)
        if let list = lists.first(where: { $0.definition.name == reference }) ?? lists.first(where: { String($0.id.rawValue) == reference })
            ?? lists.first(where: { $0.formerNames.contains(reference) }) {
            return list
        }
        throw ValidationError("no list \"\(reference)\" in this organization")
    }
}

struct OptOutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "opt-out", abstract: "Record an opt-out.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var organization: OrganizationOption
    @Argument(help: "An email address or a phone number.") var address: String
    @Option(help: "email, sms, whatsapp, voice or all.") var channel: String
    @Option(help: "The scope, e.g. client.acme (default: the whole organization).") var scope: String = ""
    @Option(help: "The list, by name or id.") var list: String = ListDefinition.defaultName
    @Option(help: "Why, kept as evidence.") var reason: String?
    @Flag(help: "Hold it: only an admin opt-in with evidence lifts it, never a link, keyword, trigger or CRM sync.") var hold = false

    func run() async throws {
        try await database.withStore(loadsIndex: false) { store in try await record(in: store) }
    }

    private func record(in store: any Store) async throws {
        let organization = try await organization.resolve(in: store)
        let optOut = OptOut(
            subject: .address(try Address(parsing: address, region: organization.settings.defaultRegion)),
            channel: try ChannelSelection(parsing: channel), scope: try Scope(parsing: scope),
            list: try await store.listID(list, in: organization.id).id, source: .rep, actor: commandLineActor,
            evidence: Evidence(reason.map { ["reason": .string($0)] } ?? [:]), hold: hold)
        let outcome = try await store.record(optOut, in: organization.id)
        if let event = outcome.events.first {
            print("opted out \(optOut.subjectDescription)\(hold ? " (held)" : "") (event \(event.sequence))")
        } else {
            print("already opted out: \(optOut.subjectDescription) (since event \(outcome.suppressions.first?.eventSequence ?? 0))")
        }
    }
}

extension OptOut {
    var subjectDescription: String {
        switch subject {
        case .address(let address): address.normalized
        case .contact(let contact): "contact \(contact.externalID)"
        }
    }
}

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "May this address be contacted? Exit 0 allowed, 1 blocked, 2 error.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var organization: OrganizationOption
    @Argument(help: "An email address or a phone number.") var address: String
    @Option(help: "email, sms, whatsapp or voice.") var channel: String
    @Option(help: "The sender's scope, e.g. client.acme.user.jo.") var scope: String = ""
    @Option(help: "Lists the message belongs to, by name or id, comma-separated.") var lists: String?

    func run() async throws {
        do {
            let decision = try await database.withStore(loadsIndex: false) { store in try await decide(in: store) }
            if decision.allowed {
                print("allowed: \(decision.address.normalized) on \(decision.channel.rawValue)")
            } else {
                print("blocked: \(decision.address.normalized) on \(decision.channel.rawValue)")
                for block in decision.blockedBy {
                    let scope = block.scope.path.isEmpty ? "organization" : block.scope.path
                    print("  by list \(block.list) (\(block.listName)), scope \(scope), channel \(block.channel), since \(block.since.formatted(.iso8601)), source \(block.source.rawValue), event \(block.eventSequence)")
                }
            }
            throw ExitCode(decision.allowed ? 0 : 1)
        } catch let code as ExitCode {
            throw code
        } catch {
            FileHandle.standardError.write(Data("error: \(error.commandLineDescription)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// Answered from the database as of now, so the command needs no index in memory.
    private func decide(in store: any Store) async throws -> Decision {
        let organization = try await organization.resolve(in: store)
        var listIDs: Set<ListID> = []
        for name in (lists ?? "").split(separator: ",") {
            listIDs.insert(try await store.listID(name.trimmingCharacters(in: .whitespaces), in: organization.id).id)
        }
        let query = CheckQuery(channel: try Channel(parsing: channel), scope: try Scope(parsing: scope), lists: listIDs)
        let address = try Address(parsing: address, region: organization.settings.defaultRegion)
        try query.channel.requireSendable(to: address)
        return try await store.decision(for: address, in: organization.id, query: query, asOf: Date())
    }
}

extension Error {
    /// How an error reads on a terminal: a domain error as `field: message`.
    var commandLineDescription: String {
        if let error = self as? HushError {
            return error.field.map { "\($0): \(error.message)" } ?? error.message
        }
        if let error = self as? ValidationError { return error.message }
        return "\(self)"
    }
}
