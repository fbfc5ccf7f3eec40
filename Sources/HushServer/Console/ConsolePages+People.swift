import Foundation
import Hummingbird
import HushCore

extension ConsolePages {
    func registerPeople(on console: Group) {
        console.get("people") { request, context in try await people(request, context) }
        console.get("people/:key") { request, context in try await person(request, context) }
        console.post("people/:key/opt-out") { request, context in try await personOptOut(request, context) }
        console.post("people/:key/request-opt-in") { request, context in try await personRequestOptIn(request, context) }
        console.post("people/:key/opt-in") { request, context in try await personOptIn(request, context) }
        console.get("people/:key/erase") { request, context in try await confirmErase(request, context) }
        console.post("people/:key/erase") { request, context in try await erase(request, context) }
    }

    /// Whether a person's key is an address rather than a contact id, as the API reads it: one
    /// with `@`, or one the API reads as an address in the organization's region (`030/12345678`
    /// in Germany, `tel:+14155550100`), unless a contact has that id (a numeric CRM id that
    /// would also read as a phone number names its contact).
    func isAddress(_ key: String, _ context: HushRequestContext) async throws -> Bool {
        if key.contains("@") { return true }
        if try await call(.get, "contacts/\(Self.escaped(key))", context).ok { return false }
        return try await call(.get, "addresses/\(Self.escaped(key))", context).ok
    }

    private func people(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        if let search = Query(request).optional("q")?.trimmingCharacters(in: .whitespaces), !search.isEmpty {
            return ConsoleView.redirect("/console/people/" + Self.escaped(search))
        }
        return try await page("people", title: "People", section: "people", request, context) { [:] }
    }

    private func key(_ context: HushRequestContext) -> String {
        let raw = context.parameters.get("key") ?? ""
        return raw.removingPercentEncoding ?? raw
    }

    /// Everything about one person: suppressions with list and scope names, lists, linked
    /// addresses, and the timeline of ledger events with their evidence.
    private func person(_ request: Request, _ context: HushRequestContext, refused: [String: Any] = [:], status: HTTPResponse.Status = .ok) async throws -> Response {
        let key = key(context)
        return try await page("person", title: key, section: "people", request, context, status: status) {
            var values = refused
            let isAddress = try await isAddress(key, context)
            var addresses: [String] = []
            if isAddress {
                addresses = [key]
            } else {
                let contact = try await call(.get, "contacts/\(Self.escaped(key))", context)
                if contact.ok {
                    addresses = ((contact.json["emails"]?.array ?? []) + (contact.json["phones"]?.array ?? [])).compactMap(\.string)
                    values["linked"] = addresses.map { ["address": $0, "path": Self.escaped($0)] }
                } else if contact.status != 404 {
                    throw ConsoleFailure(status: contact.status, message: contact.detail ?? "")
                }
            }
            var suppressions: [Int64: JSONValue] = [:]
            var events: [Int64: JSONValue] = [:]
            for address in addresses {
                let found = try await get("addresses/\(Self.escaped(address))", context)
                if isAddress {
                    values["normalized"] = found["address"]?.string ?? key
                    // The contacts it is linked to, and their other addresses.
                    var linked: [String] = []
                    let contacts = (found["contacts"]?.array ?? []).compactMap(\.string)
                    for contact in contacts {
                        let read = try await get("contacts/\(Self.escaped(contact))", context)
                        linked += ((read["emails"]?.array ?? []) + (read["phones"]?.array ?? [])).compactMap(\.string)
                    }
                    let own = found["address"]?.string ?? key
                    var seen = Set([own])
                    values["linked"] = linked.filter { seen.insert($0).inserted }.map { ["address": $0, "path": Self.escaped($0)] }
                    values["contacts"] = contacts.map { ["id": $0, "path": Self.escaped($0)] }
                }
                for suppression in found["suppressions"]?.array ?? [] { suppressions[suppression["event_id"]?.int ?? 0] = suppression }
                for event in found["events"]?.array ?? [] { events[event["id"]?.int ?? 0] = event }
                if found["events_truncated"]?.bool == true { values["events_truncated"] = true }
            }
            let lists = try await listNames(context)
            let scopes = try await scopeNames(context)
            let shownSuppressions = suppressions.values.sorted { ($0["since"]?.string ?? "") > ($1["since"]?.string ?? "") }.map { suppression -> [String: Any] in
                var values = suppression.template as? [String: Any] ?? [:]
                values["list_name"] = lists[suppression["list"]?.int ?? 0] ?? "#\(suppression["list"]?.int ?? 0)"
                values["scope_name"] = Self.scopeLabel(suppression["scope"]?.string ?? "", scopes)
                values["since_shown"] = Self.shown(suppression["since"]?.string)
                return values
            }
            values["suppressions"] = shownSuppressions
            values["blocked"] = !shownSuppressions.isEmpty
            values["in_lists"] = Array(Set(shownSuppressions.compactMap { $0["list_name"] as? String })).sorted()
            values["events"] = events.values.sorted { ($0["id"]?.int ?? 0) > ($1["id"]?.int ?? 0) }.map { event -> [String: Any] in
                var values = event.template as? [String: Any] ?? [:]
                values["occurred"] = Self.shown(event["occurred_at"]?.string)
                values["opt_out"] = event["type"]?.string == "opt_out"
                values["list_name"] = lists[event["list"]?.int ?? 0] ?? ""
                values["scope_name"] = Self.scopeLabel(event["scope"]?.string ?? "", scopes)
                values["evidence_lines"] = Self.evidenceLines(event["evidence"])
                return values
            }
            values["key"] = key
            values["key_path"] = Self.escaped(key)
            values["is_address"] = isAddress
            values["unknown"] = !isAddress && addresses.isEmpty
            values["lists"] = lists.sorted { $0.key < $1.key }.map { ["id": Int($0.key), "name": $0.value] }
            // An email address is reached by email, a number by the rest: only what can reach the person is offered.
            let reaching = !isAddress ? Self.channels : key.contains("@") ? ["email"] : ["sms", "whatsapp", "voice"]
            values["channels"] = reaching.map { ["name": $0] }
            values["entry_channels"] = (["all"] + reaching).map { ["name": $0] }
            return values
        }
    }

    func listNames(_ context: HushRequestContext) async throws -> [Int64: String] {
        var names: [Int64: String] = [:]
        for list in try await get("lists", context)["lists"]?.array ?? [] { names[list["id"]?.int ?? 0] = list["name"]?.string ?? "" }
        return names
    }

    func scopeNames(_ context: HushRequestContext) async throws -> [String: String] {
        var names: [String: String] = [:]
        for scope in try await get("scopes", context)["scopes"]?.array ?? [] { names[scope["path"]?.string ?? ""] = scope["display_name"]?.string ?? "" }
        return names
    }

    /// `Acme Europe (brand/eu)`, or the path alone, or "Whole organization".
    static func scopeLabel(_ path: String, _ names: [String: String]) -> String {
        guard !path.isEmpty else { return "Whole organization" }
        guard let name = names[path] else { return path }
        return "\(name) (\(path))"
    }

    /// Evidence as `key: value` lines, nested objects flattened with dots.
    static func evidenceLines(_ evidence: JSONValue?) -> [String] {
        func lines(_ value: JSONValue, _ prefix: String) -> [String] {
            switch value {
            case .object(let object): object.keys.sorted().flatMap { lines(object[$0]!, prefix.isEmpty ? $0 : prefix + "." + $0) }
            case .array(let values): ["\(prefix): " + values.map { $0.string ?? "\($0.template)" }.joined(separator: ", ")]
            case .string(let text): ["\(prefix): \(text)"]
            case .number: ["\(prefix): \(value.template)"]
            case .bool(let flag): ["\(prefix): \(flag)"]
            case .null: []
            }
        }
        return evidence.map { lines($0, "") } ?? []
    }

    /// The subject of a person's page as the API takes it.
    private func subject(_ context: HushRequestContext) async throws -> [String: Any] {
        let key = key(context)
        return try await isAddress(key, context) ? ["address": key] : ["contact": key]
    }

    /// The scope and list a person's form chose.
    private static func target(_ form: FormBody) -> [String: Any] {
        var json: [String: Any] = [:]
        if let scope = form.first("scope"), !scope.isEmpty { json["scope"] = scope }
        if let list = form.first("list"), let id = Int(list) { json["list"] = id }
        return json
    }

    /// Any member may opt a person out of the chosen channels (each one, or all at once).
    private func personOptOut(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        var chosen = form.all("channels")
        if chosen.isEmpty || chosen.contains("all") { chosen = ["all"] }
        for channel in chosen {
            var json = try await subject(context).merging(Self.target(form)) { $1 }
            json["channel"] = channel
            json["source"] = "rep"
            if let reason = form.first("reason"), !reason.isEmpty { json["reason"] = reason }
            let answer = try await call(.post, "opt-outs", json: json, context)
            guard answer.ok else { return try await person(request, context, refused: Self.refused(answer, form: form, prefix: "out"), status: HTTPResponse.Status(code: answer.status)) }
        }
        return ConsoleView.redirect("/console/people/" + Self.escaped(key(context)), notice: "opted_out")
    }

    /// Asks the person to confirm an opt back in; the link reaches them through the
    /// `opt_in.requested` webhook.
    private func personRequestOptIn(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        var json = try await subject(context).merging(Self.target(form)) { $1 }
        json["channel"] = form.first("channel") ?? "all"
        let answer = try await call(.post, "opt-in-requests", json: json, context)
        guard answer.ok else { return try await person(request, context, refused: Self.refused(answer, form: form, prefix: "ask"), status: HTTPResponse.Status(code: answer.status)) }
        return ConsoleView.redirect("/console/people/" + Self.escaped(key(context)), notice: "requested")
    }

    /// An admin lifts a suppression with the written consent that allows it.
    private func personOptIn(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        var json = try await subject(context).merging(Self.target(form)) { $1 }
        json["channel"] = form.first("channel") ?? "all"
        let evidence = Self.consent(form)
        json["evidence"] = evidence
        let answer = try await call(.post, "opt-ins", json: json, context)
        guard answer.ok else { return try await person(request, context, refused: Self.refused(answer, form: form, prefix: "in"), status: HTTPResponse.Status(code: answer.status)) }
        guard answer.json["lifted"]?.template is [String: Any] else {
            return try await person(request, context, refused: [
                "problem": "Nothing was lifted: no suppression matches that channel, scope and list. The table above says which are in force.",
                "in": ["kind": form.first("kind") ?? "", "reference": form.first("reference") ?? "", "note": form.first("note") ?? ""],
            ], status: .conflict)
        }
        return ConsoleView.redirect("/console/people/" + Self.escaped(key(context)), notice: "opted_in")
    }

    private func confirmErase(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let key = key(context)
        return try await page("person", title: key, section: "people", request, context) {
            ["key": key, "key_path": Self.escaped(key), "confirm_erase": true, "is_address": try await isAddress(key, context)]
        }
    }

    /// Erasing is for admins and needs the address typed again.
    private func erase(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        let key = key(context)
        guard form.first("confirm")?.trimmingCharacters(in: .whitespaces) == key else {
            return try await page("person", title: key, section: "people", request, context, status: .badRequest) {
                ["key": key, "key_path": Self.escaped(key), "confirm_erase": true, "is_address": true,
                 "errors": ["confirm": "type the address exactly as shown to erase it"]]
            }
        }
        return try await act(.post, "erasures", json: ["address": key], context, then: "/console/people", notice: "erased")
    }
}
