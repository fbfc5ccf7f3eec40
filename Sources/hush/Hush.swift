import ArgumentParser
import Foundation
import HushCore
import HushServer
import HushStore
import Logging
import ServiceLifecycle

@main
struct Hush: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hush",
        abstract: "Opt-outs and consent: record them, honour them at send time, prove them.",
        subcommands: [Serve.self, Orgs.self, Keys.self, LinkKeys.self, OptOutCommand.self, CheckCommand.self, NormalizeCommand.self, ImportCommand.self, ExportCommand.self, EraseCommand.self, Webhooks.self, Connectors.self, Users.self])
}

/// Options every command that opens the database takes.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A SQLite database file (created on first use), or a PostgreSQL URL: postgres://user:password@host:5432/db?sslmode=require. (HUSH_DATABASE)"))
    var database: String = ProcessInfo.processInfo.environment["HUSH_DATABASE"] ?? "./hush.sqlite"

    @Option(name: .long, help: "PostgreSQL only: connections this process opens at most. (HUSH_POOL_SIZE)")
    var poolSize: Int = Int(ProcessInfo.processInfo.environment["HUSH_POOL_SIZE"] ?? "") ?? 16

    @Option(name: .long, help: "PostgreSQL only: how often, in milliseconds, a node polls for other nodes' writes when no notification arrived. (HUSH_FOLLOW_INTERVAL_MS)")
    var followInterval: Int = Int(ProcessInfo.processInfo.environment["HUSH_FOLLOW_INTERVAL_MS"] ?? "") ?? 1000

    @Option(name: .long, help: "A file the index is written to when the server stops and read back when it starts, if it matches the database (then only the ledger's tail is replayed). Default: <database>.index for SQLite, none for PostgreSQL; \"none\" turns it off. (HUSH_INDEX_SNAPSHOT)")
    var indexSnapshot: String? = ProcessInfo.processInfo.environment["HUSH_INDEX_SNAPSHOT"]

    /// The snapshot file to use, if any (see `indexSnapshot`).
    var snapshotFile: String? {
        switch indexSnapshot {
        case "none", "": nil
        case let path?: path
        case nil: isPostgres ? nil : database + ".index"
        }
    }

    /// Whether `database` names a PostgreSQL server rather than a SQLite file.
    var isPostgres: Bool { database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") }

    /// Opens the store. SQLite takes the erasure secret from HUSH_ERASURE_SECRET (hex) or from
    /// the file beside the database, created with 32 random bytes on first use, and the secret
    /// key likewise. PostgreSQL is shared by several nodes, which must all use the same keys, so
    /// they come from configuration only: HUSH_ERASURE_SECRET and HUSH_SECRET_KEY, or files
    /// named by HUSH_ERASURE_SECRET_FILE and HUSH_SECRET_KEY_FILE. The one place the command
    /// line chooses a backend; every command works through the `Store` protocols.
    func open(logger: Logger = Logger(label: "hush"), loadsIndex: Bool = true, node: String? = nil) async throws -> any Store {
        // Every file Hush writes (the database, its keys, exports) is its owner's alone.
        umask(0o077)
        if isPostgres {
            var configuration = PostgresStore.Configuration(url: database, erasureKey: try erasureKey(), logger: logger)
            configuration.secretKey = try secretKey()
            configuration.loadsIndex = loadsIndex
            configuration.poolSize = poolSize
            configuration.node = node
            configuration.followInterval = .milliseconds(max(10, followInterval))
            // Also for a command that keeps no index: its erasure removes the snapshot.
            configuration.indexSnapshot = snapshotFile
            return try await PostgresStore(configuration)
        }
        var configuration = SQLiteStore.Configuration(path: database, erasureKey: try erasureKey(), logger: logger)
        configuration.secretKey = try secretKey()
        configuration.loadsIndex = loadsIndex
        configuration.indexSnapshot = snapshotFile
        return try await SQLiteStore(configuration)
    }

    /// Opens the store, runs `body` and closes the store, also when `body` throws.
    func withStore<T>(loadsIndex: Bool = false, _ body: (any Store) async throws -> T) async throws -> T {
        let store = try await open(loadsIndex: loadsIndex)
        do {
            let result = try await body(store)
            try await store.close()
            return result
        } catch {
            try? await store.close()
            throw error
        }
    }

    /// The erasure secret: HUSH_ERASURE_SECRET, or `<database>.erasure-key`.
    private func erasureKey() throws -> ErasureKey {
        try ErasureKey(secret: try keyBytes(environment: "HUSH_ERASURE_SECRET", suffix: ".erasure-key", what: "the erasure secret"))
    }

    /// The key Hush's own secrets are stored under: HUSH_SECRET_KEY, or `<database>.secret-key`.
    private func secretKey() throws -> SecretKey {
        try SecretKey(bytes: try keyBytes(environment: "HUSH_SECRET_KEY", suffix: ".secret-key", what: "the secret key"))
    }

    /// 32 bytes from an environment variable (hex) or from the file beside the database,
    /// created 0600 with random bytes on first use.
    private func keyBytes(environment name: String, suffix: String, what: String) throws -> [UInt8] {
        let environment = ProcessInfo.processInfo.environment
        if let hex = environment[name] {
            guard let bytes = [UInt8](hex: hex) else {
                throw ValidationError("\(name) must be hexadecimal (64 digits)")
            }
            return bytes
        }
        if let file = environment[name + "_FILE"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8),
                  let bytes = [UInt8](hex: text.trimmingCharacters(in: .whitespacesAndNewlines))
            else { throw ValidationError("\(name)_FILE names \(file), which does not hold 64 hexadecimal digits") }
            return bytes
        }
        if isPostgres {
            throw ValidationError("""
                on PostgreSQL every node must use the same \(what): set \(name) (or \(name)_FILE) to 64 hexadecimal \
                digits, e.g. from `openssl rand -hex 32`, and give every node the same value (docs/deploy.md)
                """)
        }
        let path = database + suffix
        if let text = try? String(contentsOfFile: path, encoding: .utf8), let bytes = [UInt8](hex: text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            return bytes
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = generator.next() }
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        // Written whole to a file of this process's own, then linked into place: the link fails
        // if another process starting on the same database got there first, and then its key,
        // complete, is the key (two processes must never seal or hash under different ones).
        let temporary = path + ".\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data((hex + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("could not write \(what) to \(path)")
        }
        defer { unlink(temporary) }
        if link(temporary, path) != 0 {
            guard errno == EEXIST, let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let existing = [UInt8](hex: text.trimmingCharacters(in: .whitespacesAndNewlines))
            else { throw ValidationError("could not write \(what) to \(path)") }
            return existing
        }
        return bytes
    }
}

extension [UInt8] {
    init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = Self.value(digits[index]), let low = Self.value(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self = bytes
    }

    private static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

struct Orgs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage organizations.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an organization with its default list.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "1–64 characters: a-z, 0-9, '.', '_', '-'.") var name: String

        func run() async throws {
            let organization = try await database.withStore { store in try await store.createOrganization(named: name) }
            print("created organization \(organization.name)")
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage API keys.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; only the key is printed, once.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The organization the key belongs to.") var org: String = "default"
        @Option(help: "admin, member or inbound (provider integrations: inbound messages and activities only).") var role: String = "member"

        func run() async throws {
            let role = try Role(parsing: role)
            let key = try await database.withStore { store in
                guard let organization = try await store.organization(named: org) else {
                    throw ValidationError("no organization named \"\(org)\"")
                }
                return try await store.createKey(in: organization.id, role: role).0
            }
            print(key.secret)
        }
    }
}

struct LinkKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link-keys", abstract: "Manage the keys unsubscribe and confirmation links are signed with.",
        subcommands: [Rotate.self, Retire.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign new links with a new key. Links signed with older keys keep working; a running server signs with the new key within a minute.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let key = try await database.withStore { store in try await store.rotateLinkKey() }
            print("new link key \(key.id)")
        }
    }
}

struct Webhooks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Help for webhook receivers.", subcommands: [Verify.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a Standard Webhooks signature by hand. Exit 0 valid, 1 not valid, 2 bad input.")
        @Option(help: "The endpoint's secret, whsec_…") var secret: String
        @Option(help: "The webhook-id header.") var id: String
        @Option(help: "The webhook-timestamp header (unix seconds).") var timestamp: Int64
        @Option(help: "A file holding the exact request body.") var body: String
        @Option(help: "The webhook-signature header (one or more v1,… separated by spaces).") var signature: String

        func run() throws {
            let parsed: WebhookSecret
            let bytes: [UInt8]
            do {
                parsed = try WebhookSecret(parsing: secret)
                bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: body)))
            } catch {
                FileHandle.standardError.write(Data("error: \(error.commandLineDescription)\n".utf8))
                throw ExitCode(2)
            }
            if WebhookSignature.verify(header: signature, id: id, timestamp: timestamp, body: bytes, secret: parsed) {
                print("valid")
            } else {
                print("not valid: expected \(WebhookSignature.sign(id: id, timestamp: timestamp, body: bytes, secret: parsed))")
                throw ExitCode(1)
            }
        }
    }
}
