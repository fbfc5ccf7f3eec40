import Foundation
import Hummingbird
import HushCore

extension ConsolePages {
    func registerLists(on console: Group) {
        console.get("lists") { request, context in try await lists(request, context) }
        console.post("lists") { request, context in try await createList(request, context) }
        console.get("lists/:id") { request, context in try await list(request, context) }
        console.post("lists/:id") { request, context in try await updateList(request, context) }
        console.post("lists/:id/delete") { _, context in try await deleteList(context) }
        console.post("lists/:id/add") { request, context in try await addEntries(request, context) }
        console.post("lists/:id/remove") { request, context in try await removeEntries(request, context) }
        console.get("lists/:id/export.csv") { _, context in try await exportList(context) }
    }

    /// A list's form fields as the API takes them.
    static func listJSON(_ form: FormBody, admin: Bool) -> [String: Any] {
        var json: [String: Any] = [
            "name": form.first("name") ?? "", "description": form.first("description") ?? "",
            "keywords": (form.first("keywords") ?? "").split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init),
            "channels": form.all("channels").isEmpty ? channels : form.all("channels"),
        ]
        let message = form.first("message") ?? ""
        json["message"] = message.isEmpty ? NSNull() : message
        if admin {
            let webhook = form.first("webhook_url") ?? ""
            json["webhook_url"] = webhook.isEmpty ? NSNull() : webhook
            json["public"] = form.first("public") == "on"
        }
        return json
    }

    private func lists(_ request: Request, _ context: HushRequestContext, refused: [String: Any] = [:], status: HTTPResponse.Status = .ok) async throws -> Response {
        try await page("lists", title: "Lists", section: "lists", request, context, status: status) {
            let lists = try await get("lists", context)["lists"]?.array ?? []
            var counts: [Int64: Int] = [:]
            for count in try await get("stats?days=1", context)["suppressions"]?.array ?? [] {
                counts[count["list"]?.int ?? 0, default: 0] += Int(count["count"]?.int ?? 0)
            }
            var values = refused
            values["lists"] = lists.map { list -> [String: Any] in
                var values = list.template as? [String: Any] ?? [:]
                values["entries"] = counts[list["id"]?.int ?? 0] ?? 0
                values["channel_names"] = (list["channels"]?.array ?? []).compactMap(\.string).joined(separator: ", ")
                values["keyword_names"] = (list["keywords"]?.array ?? []).compactMap(\.string).joined(separator: ", ")
                return values
            }
            values["channel_choices"] = Self.channels.map { ["name": $0, "checked": true] }
            return values
        }
    }

    private func createList(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        let answer = try await call(.post, "lists", json: Self.listJSON(form, admin: try context.signedIn().user.role == .admin), context)
        guard answer.ok, let id = answer.json["id"]?.int else {
            return try await lists(request, context, refused: Self.refused(answer, form: form), status: HTTPResponse.Status(code: answer.status))
        }
        return ConsoleView.redirect("/console/lists/\(id)", notice: "created")
    }

    private func listID(_ context: HushRequestContext) -> String {
        Self.escaped(context.parameters.get("id") ?? "")
    }

    private func list(_ request: Request, _ context: HushRequestContext, refused: [String: Any] = [:], status: HTTPResponse.Status = .ok) async throws -> Response {
        try await page("list", title: "List", section: "lists", request, context, status: status) {
            let id = listID(context)
            let list = try await get("lists/\(id)", context)
            var values = refused
            values["list"] = list.template
            values["keyword_text"] = (list["keywords"]?.array ?? []).compactMap(\.string).joined(separator: ", ")
            let covered = Set((list["channels"]?.array ?? []).compactMap(\.string))
            // Not `channels`: inside `{{#list}}` the list's own `channels` would hide it.
            values["channel_choices"] = Self.channels.map { ["name": $0, "checked": covered.contains($0)] }
            values["entry_channels"] = (["all"] + Self.channels).map { ["name": $0] }
            let scopes = try await scopeNames(context)
            let query = Query(request)
            if let search = query.optional("search") {
                values["search"] = search
                let found = try await call(.get, "addresses/\(Self.escaped(search))", context)
                let entries = found.ok ? (found.json["suppressions"]?.array ?? []).filter { $0["list"]?.int == list["id"]?.int } : []
                values["entries"] = entries.map { Self.entryValues($0, scopes) }
                if !found.ok { values["search_problem"] = found.detail ?? "" }
            } else {
                let cursor = query.optional("cursor").map { "&cursor=\(Self.escaped($0))" } ?? ""
                let page = try await get("lists/\(id)/entries?limit=100\(cursor)", context)
                values["entries"] = (page["entries"]?.array ?? []).map { Self.entryValues($0, scopes) }
                values["next_cursor"] = page["next_cursor"]?.string as Any
            }
            return values
        }
    }

    static func entryValues(_ entry: JSONValue, _ scopes: [String: String]) -> [String: Any] {
        var values = entry.template as? [String: Any] ?? [:]
        values["scope_name"] = scopeLabel(entry["scope"]?.string ?? "", scopes)
        values["since_shown"] = shown(entry["since"]?.string)
        values["person_path"] = escaped(entry["address"]?.string ?? entry["contact"]?.string ?? "")
        values["key"] = [entry["address"]?.string ?? "", entry["channel"]?.string ?? "", entry["scope"]?.string ?? ""].joined(separator: "|")
        return values
    }

    private func updateList(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        let answer = try await call(.patch, "lists/\(listID(context))", json: Self.listJSON(form, admin: try context.signedIn().user.role == .admin), context)
        guard answer.ok else { return try await list(request, context, refused: Self.refused(answer, form: form), status: HTTPResponse.Status(code: answer.status)) }
        return ConsoleView.redirect("/console/lists/\(listID(context))", notice: "saved")
    }

    private func deleteList(_ context: HushRequestContext) async throws -> Response {
        return try await act(.delete, "lists/\(listID(context))", context, then: "/console/lists", notice: "deleted")
    }

    /// One address, or many pasted or uploaded (a CSV's first column), sent in batches of the
    /// API's limit. The answer names the people who were on the list already.
    private func addEntries(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        let single = form.first("address") ?? ""
        let addresses = single.isEmpty ? Self.addresses(in: (form.first("paste") ?? "") + "\n" + (form.first("file") ?? "")) : [single]
        let channel = form.first("channel") ?? "all"
        let scope = form.first("scope") ?? ""
        guard !addresses.isEmpty else {
            return try await list(request, context, refused: ["problem": "Give an address, paste some, or upload a CSV file.", "errors": ["address": "an address is needed"]],
                                  status: .badRequest)
        }
        let script = request.headers[.accept]?.contains("application/json") == true
        // Warn first: the people this list stops already (on every channel the add names, at its
        // scope) are named before anything is written, and a yes adds the others only. Above
        // 10 000 addresses (what the console's script sends in batches) the summary names them.
        if !script, form.first("confirmed") != "1", addresses.count <= 10_000 {
            let opted = try await alreadyOnList(addresses, channel: channel, scope: scope, context)
            if !opted.isEmpty {
                let region = try await store.organization(try context.signedIn().user.organization)?.settings.defaultRegion
                let stopped = Set(opted)
                // Read as the API reads them; what does not parse stays, for the API to name.
                let others = addresses.filter { address in
                    (try? Address(parsing: address, region: region)).map { !stopped.contains($0.normalized) } ?? true
                }
                return try await list(request, context, refused: ["confirm_add": [
                    // A textarea drops one leading newline: the first line survives it.
                    "others": "\n" + others.joined(separator: "\n"), "others_count": others.count, "has_others": !others.isEmpty,
                    "channel": channel, "scope": scope, "count": addresses.count,
                    "opted_count": opted.count, "opted": Array(opted.prefix(50)), "more": max(0, opted.count - 50),
                ]])
            }
        }
        var added = 0
        var already: [String] = []
        var problems: [String] = []
        for batch in stride(from: 0, to: addresses.count, by: ListRoutes.maximumEntries).map({ Array(addresses[$0..<min($0 + ListRoutes.maximumEntries, addresses.count)]) }) {
            var entries: [[String: Any]] = []
            for address in batch {
                var entry: [String: Any] = ["address": address, "channel": channel]
                if !scope.isEmpty { entry["scope"] = scope }
                entries.append(entry)
            }
            let answer = try await call(.post, "lists/\(listID(context))/entries", json: ["entries": entries, "source": single.isEmpty ? "import" : "rep"], context)
            guard answer.ok else {
                problems.append(contentsOf: answer.problems.filter { !$0.key.isEmpty }.map { "\(Self.named($0.key, in: batch)): \($0.value)" })
                if problems.isEmpty { problems.append(answer.detail ?? "refused") }
                continue
            }
            for (address, result) in zip(batch, answer.json["results"]?.array ?? []) {
                if result["events"]?.array?.isEmpty == false { added += 1 } else { already.append(address) }
            }
        }
        if script {
            // The console's script sends a large file in batches and shows its progress.
            return try JSONBody(BatchJSON(added: added, already: already, problems: problems)).response(from: request, context: context)
        }
        guard problems.isEmpty else {
            return try await list(request, context, refused: ["problem": "Nothing was added from the batches below; fix them and add again.", "add_problems": problems],
                                  status: .badRequest)
        }
        // Drawn at once rather than redirected: the summary names who was opted out already.
        let summary = "Added \(added) of \(addresses.count)." + (already.isEmpty ? "" : " \(already.count) were opted out already and are unchanged:")
        return try await list(request, context, refused: ["notice": summary, "already": Array(already.prefix(50)), "more_already": max(0, already.count - 50)])
    }

    /// The addresses (as the API normalizes them) that this list already stops on every channel
    /// the add would cover (`all`: email for an email address; sms, WhatsApp and voice for a
    /// number), at the add's scope: a check there that names this list among what blocks.
    private func alreadyOnList(_ addresses: [String], channel: String, scope: String, _ context: HushRequestContext) async throws -> [String] {
        guard let list = Int64(context.parameters.get("id") ?? "") else { return [] }
        let byKind: [(Bool, [String])] = [(true, channel == "all" ? ["email"] : [channel]), (false, channel == "all" ? ["sms", "whatsapp", "voice"] : [channel])]
        var opted: [String] = []
        for (email, channels) in byKind {
            let group = addresses.filter { $0.contains("@") == email }
            guard !group.isEmpty else { continue }
            var stoppedOn: [String: Int] = [:]
            for checked in channels {
                var json: [String: Any] = ["channel": checked, "addresses": group, "lists": [list]]
                if !scope.isEmpty { json["scope"] = scope }
                let answer = try await call(.post, "check", json: json, context)
                for blocked in answer.json["blocked"]?.array ?? []
                where (blocked["blocked_by"]?.array ?? []).contains(where: { $0["list"]?.int == list }) {
                    stoppedOn[blocked["address"]?.string ?? "", default: 0] += 1
                }
            }
            opted += stoppedOn.filter { $0.value == channels.count }.keys.sorted()
        }
        return opted
    }

    struct BatchJSON: Encodable, Sendable {
        let added: Int
        let already: [String]
        let problems: [String]
    }

    /// `entries[3].address` → the address the third entry had.
    static func named(_ field: String, in batch: [String]) -> String {
        guard field.hasPrefix("entries["), let end = field.firstIndex(of: "]"),
              let index = Int(field[field.index(field.startIndex, offsetBy: 8)..<end]), batch.indices.contains(index)
        else { return field }
        return batch[index]
    }

    /// Removing entries is an opt-in: the API asks an admin for the consent that allows it.
    private func removeEntries(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        let entries = form.all("entry").compactMap { key -> [String: Any]? in
            // `address|channel|scope`, split from the right: an email's local part may hold `|`.
            let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 3 else { return nil }
            let address = parts.dropLast(2).joined(separator: "|")
            guard !address.isEmpty else { return nil }
            var entry: [String: Any] = ["address": address, "channel": parts[parts.count - 2]]
            if !parts[parts.count - 1].isEmpty { entry["scope"] = parts[parts.count - 1] }
            return entry
        }
        let evidence = Self.consent(form)
        guard !entries.isEmpty else {
            return try await list(request, context, refused: ["problem": "Select the entries to remove.", "form": ["kind": evidence["kind"] ?? "", "reference": evidence["reference"] ?? ""]],
                                  status: .badRequest)
        }
        let answer = try await call(.delete, "lists/\(listID(context))/entries", json: ["entries": entries, "evidence": evidence], context)
        guard answer.ok else { return try await list(request, context, refused: Self.refused(answer, form: form), status: HTTPResponse.Status(code: answer.status)) }
        return ConsoleView.redirect("/console/lists/\(listID(context))", notice: "removed")
    }

    /// Every entry of the list as CSV, read a page at a time from the API: the columns and
    /// rules of `hush export` (erased addresses left out), so `hush import` reads it back.
    private func exportList(_ context: HushRequestContext) async throws -> Response {
        let id = listID(context)
        let name = try await get("lists/\(id)", context)["name"]?.string ?? ""
        var csv = CSVLines(capacity: 4_096)
        csv.row(CSVLines.entryColumns)
        var cursor = ""
        repeat {
            let page = try await get("lists/\(id)/entries?limit=1000\(cursor)", context)
            for entry in page["entries"]?.array ?? [] {
                let subject = entry["address"]?.string ?? entry["contact"]?.string.map { SubjectKey.contact($0).stored } ?? ""
                guard !subject.hasPrefix(ErasureKey.prefix) else { continue }
                csv.row([subject, entry["channel"]?.string ?? "", entry["scope"]?.string ?? "", name, entry["since"]?.string ?? "", entry["source"]?.string ?? "",
                         entry["hold"]?.bool == true ? "true" : "false"])
            }
            cursor = page["next_cursor"]?.string.map { "&cursor=\($0)" } ?? ""
        } while !cursor.isEmpty
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"list-\(id).csv\""
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: csv.bytes)))
    }
}
