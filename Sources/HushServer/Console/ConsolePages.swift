import Foundation
import Hummingbird
import HushCore
import HushStore

/// The console's pages. Each reads and writes through `ConsoleAPI`, as the signed-in user;
/// a refused form is drawn again with the API's message beside the field it names.
struct ConsolePages: Sendable {
    let api: ConsoleAPI
    let store: any Store
    let accounts: ConsoleAccounts
    let now: @Sendable () -> Date

    typealias Group = RouterGroup<HushRequestContext>

    func register(on console: Group) {
        registerOverview(on: console)
        registerLists(on: console)
        registerPeople(on: console)
        registerAudience(on: console)
        registerSends(on: console)
        registerReview(on: console)
        registerWebhooks(on: console)
        registerSequences(on: console)
        registerConnectors(on: console)
        registerSettings(on: console)
    }

    /// A page's answer: `values` in `template`, with the notice a redirect named, or the
    /// failure of a read it needed.
    func page(
        _ template: String, title: String, section: String, _ request: Request, _ context: HushRequestContext,
        status: HTTPResponse.Status = .ok, values: () async throws -> [String: Any]
    ) async throws -> Response {
        let me = try context.signedIn()
        var drawn: [String: Any]
        var status = status
        do {
            drawn = try await values()
        } catch let failure as ConsoleFailure {
            drawn = ["problem": failure.message]
            status = HTTPResponse.Status(code: failure.status)
        }
        if drawn["notice"] == nil, let code = Query(request).optional("notice") { drawn["notice"] = ConsoleView.notices[code] }
        return ConsoleView.page(template, title: title, section: section, drawn, signedIn: me, status: status)
    }

    func get(_ path: String, _ context: HushRequestContext) async throws -> JSONValue {
        try await api.get(path, as: try context.signedIn().user.principal, context: context)
    }

    func call(_ method: HTTPRequest.Method, _ path: String, json: Any? = nil, _ context: HushRequestContext) async throws -> ConsoleAPI.Answer {
        try await api.call(method, path, json: json, as: try context.signedIn().user.principal, context: context)
    }

    /// Calls the API; a refusal becomes the console's error page (it names what was refused).
    @discardableResult
    func require(_ method: HTTPRequest.Method, _ path: String, json: Any? = nil, _ context: HushRequestContext) async throws -> ConsoleAPI.Answer {
        let answer = try await call(method, path, json: json, context)
        guard answer.ok else { throw ConsoleFailure(status: answer.status, message: answer.detail ?? "") }
        return answer
    }

    /// Calls the API and, when it accepts, sends the browser to `location` with a notice.
    func act(
        _ method: HTTPRequest.Method, _ path: String, json: Any? = nil, _ context: HushRequestContext, then location: String, notice: String
    ) async throws -> Response {
        try await require(method, path, json: json, context)
        return ConsoleView.redirect(location, notice: notice)
    }

    /// The written consent a form gives for lifting an opt-out: kind, reference, an optional note.
    static func consent(_ form: FormBody) -> [String: Any] {
        var evidence: [String: Any] = ["kind": form.first("kind") ?? "", "reference": form.first("reference") ?? ""]
        if let note = form.first("note"), !note.isEmpty { evidence["note"] = note }
        return evidence
    }

    func form(_ request: Request, _ context: HushRequestContext) async throws -> FormBody {
        try await FormBody(request, context: context, limit: context.maxUploadSize)
    }

    /// The values a form is drawn again with after the API refused it: what was typed, and
    /// `errors.<field>` for each message.
    static func refused(_ answer: ConsoleAPI.Answer, form: FormBody, prefix: String = "form") -> [String: Any] {
        var typed: [String: Any] = [:]
        for (name, value) in form.fields where name != "_csrf" { typed[name] = value }
        var errors: [String: Any] = [:]
        for (field, message) in answer.problems where !field.isEmpty { errors[formField(field)] = message }
        return [prefix: typed, "errors": errors, "problem": answer.detail ?? ""]
    }

    /// How a template names the API's field: `keywords.opt_out[3]` is `keywords_opt_out`.
    static func formField(_ field: String) -> String {
        var name = ""
        var inIndex = false
        for character in field {
            switch character {
            case "[": inIndex = true
            case "]": inIndex = false
            case "." where !inIndex: name.append("_")
            default: if !inIndex { name.append(character) }
            }
        }
        return name
    }

    /// `path` with every character that is not unreserved percent-encoded: a value put into a
    /// `/v1` path or query.
    static func escaped(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? value
    }

    /// A date as the console shows it: `2026-11-29 14:03 UTC`.
    static func shown(_ timestamp: String?) -> String {
        guard let timestamp, let date = Timestamp.parse(timestamp) else { return timestamp ?? "" }
        // Timestamp's arithmetic, not a DateFormatter: one made per row was most of the time a
        // person's page with 1 000 events took.
        let utc = Timestamp.format(date)
        return utc.prefix(10) + " " + utc.dropFirst(11).prefix(5) + " UTC"
    }

    /// The lines of a pasted list or an uploaded CSV's first column, without blanks and a
    /// header row of `address`/`email`/`phone`.
    static func addresses(in text: String) -> [String] {
        var lines = text.split(whereSeparator: \.isNewline).map { line -> String in
            let first = line.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return first.trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'"))
        }.filter { !$0.isEmpty }
        if let header = lines.first?.lowercased(), ["address", "email", "phone", "mobile", "recipient"].contains(header) { lines.removeFirst() }
        return lines
    }

    static let channels = ["email", "sms", "whatsapp", "voice"]
}
