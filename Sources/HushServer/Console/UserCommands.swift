import Foundation
import HushCore
import HushStore

/// `hush users`: console users from the command line, through `ConsoleAccounts` (the rules
/// `/v1/users` and the console follow).
public struct UserCommands: Sendable {
    let accounts: ConsoleAccounts
    let store: any ConsoleStore & AccessStore

    public init(store: any ConsoleStore & AccessStore, passwordCost: UInt8? = nil) {
        self.store = store
        accounts = ConsoleAccounts(store: store, passwordCost: passwordCost ?? ConsoleAccounts.defaultPasswordCost, now: { Date() })
    }

    /// Creates the user; returns what to print (with the generated password when none was given).
    public func create(email: String, role: String, password: String?, in organization: OrganizationID) async throws -> String {
        let (user, generated) = try await accounts.create(email: email, role: role, password: password, in: organization)
        var lines = ["created \(user.role.rawValue) \(user.email) (id \(user.id))"]
        if let generated { lines.append("password (shown once): \(generated)") }
        return lines.joined(separator: "\n")
    }

    /// Tab-separated: id, email, role, created, last sign-in, disabled.
    public func list(in organization: OrganizationID) async throws -> String {
        let formatter = ISO8601DateFormatter()
        let rows = try await store.users(in: organization).map { user in
            [String(user.id.rawValue), user.email, user.role.rawValue, formatter.string(from: user.createdAt),
             user.lastSignInAt.map(formatter.string) ?? "-", user.disabledAt.map(formatter.string) ?? "-"].joined(separator: "\t")
        }
        return (["id\temail\trole\tcreated\tlast_sign_in\tdisabled"] + rows).joined(separator: "\n")
    }

    /// Disables the user with this id or email, ending its sessions.
    public func disable(_ user: String, in organization: OrganizationID) async throws -> String {
        let email = try? ConsoleCredentials.email(parsing: user)
        let byEmail = try await store.users(in: organization).first { $0.email == email }?.id
        guard let id = ConsoleUserID(user) ?? byEmail else {
            throw HushError(.notFound, field: "user", "no console user \(user) in this organization")
        }
        try await accounts.disable(id, in: organization)
        return "disabled user \(id); their sessions ended"
    }
}
