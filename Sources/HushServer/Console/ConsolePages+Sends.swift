import Foundation
import Hummingbird
import HushCore

extension ConsolePages {
    func registerAudience(on console: Group) {
        console.get("audience") { request, context in try await audience(request, context) }
        console.post("audience") { request, context in try await checkAudience(request, context) }
    }

    func registerSends(on console: Group) {
        console.get("sends") { request, context in try await sends(request, context) }
        console.get("sends/:id") { request, context in try await send(request, context) }
        console.get("sends/:id/report.csv") { _, context in try await sendCSV(context) }
    }

    /// What "Optout Email" and "Optout Number" say, as a send report marks them.
    static func reasonLabel(_ reason: String?) -> String {
        switch reason {
        case "optout_email": "Optout Email"
        case "optout_number": "Optout Number"
        default: reason ?? ""
        }
    }

    private func audienceForm(_ context: HushRequestContext) async throws -> [String: Any] {
        let lists = try await listNames(context)
        return [
            "channels": Self.channels.map { ["name": $0] },
            "lists": lists.sorted { $0.key < $1.key }.map { ["id": Int($0.key), "name": $0.value] },
        ]
    }

    private func audience(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        try await page("audience", title: "Audience check", section: "audience", request, context) { try await audienceForm(context) }
    }

    /// Checks pasted or uploaded recipients (as a send, when asked, so it has a report): every
    /// recipient in the order given, the opted-out ones struck through with the reason and
    /// what blocks them, and a warning naming them first.
    private func checkAudience(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        let recipients = Self.addresses(in: (form.first("paste") ?? "") + "\n" + (form.first("file") ?? ""))
        var json: [String: Any] = ["channel": form.first("channel") ?? "email", "recipients": recipients]
        if let scope = form.first("scope"), !scope.isEmpty { json["scope"] = scope }
        let lists = form.all("lists").compactMap { Int($0) }
        if !lists.isEmpty { json["lists"] = lists }
        let record = form.first("record") == "on"
        if record, let name = form.first("name"), !name.isEmpty { json["name"] = name }
        let answer = try await call(.post, record ? "sends" : "audiences/preview", json: json, context)
        return try await page("audience", title: "Audience check", section: "audience", request, context, status: answer.ok ? .ok : HTTPResponse.Status(code: answer.status)) {
            var values = try await audienceForm(context)
            guard answer.ok else { return values.merging(Self.refused(answer, form: form)) { $1 } }
            let scopes = try await scopeNames(context)
            values["form"] = ["paste": recipients.joined(separator: "\n"), "scope": form.first("scope") ?? "", "name": form.first("name") ?? ""]
            var rows: [(Int, [String: Any])] = []
            for status in ["allowed", "blocked", "invalid"] {
                for entry in answer.json[status]?.array ?? [] {
                    let block = entry["blocked_by"]?.array?.first
                    rows.append((Int(entry["position"]?.int ?? 0), [
                        "address": entry["address"]?.string ?? entry["input"]?.string ?? "", "blocked": status == "blocked", "invalid": status == "invalid",
                        "reason": Self.reasonLabel(entry["reason"]?.string), "error": entry["error"]?.string ?? "",
                        "list_name": block?["list_name"]?.string ?? "", "scope_name": Self.scopeLabel(block?["scope"]?.string ?? "", scopes), "source": block?["source"]?.string ?? "",
                        "since": Self.shown(block?["since"]?.string),
                    ]))
                }
            }
            let ordered = rows.sorted { $0.0 < $1.0 }.map(\.1)
            values["results"] = ordered
            values["checked"] = true
            values["blocked_names"] = ordered.filter { $0["blocked"] as? Bool == true }.prefix(50).map { $0["address"] as? String ?? "" }
            values["counts"] = answer.json["counts"]?.template ?? [:]
            values["send_id"] = answer.json["id"]?.int.map { Int($0) } as Any
            return values
        }
    }

    private func sends(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        try await page("sends", title: "Sends", section: "sends", request, context) {
            let cursor = Query(request).optional("cursor").map { "&cursor=\(Self.escaped($0))" } ?? ""
            let page = try await get("sends?limit=50\(cursor)", context)
            let scopes = try await scopeNames(context)
            return [
                "sends": (page["sends"]?.array ?? []).map { send -> [String: Any] in
                    var values = send.template as? [String: Any] ?? [:]
                    values["created"] = Self.shown(send["created_at"]?.string)
                    values["scope_name"] = Self.scopeLabel(send["scope"]?.string ?? "", scopes)
                    return values
                },
                "next_cursor": page["next_cursor"]?.string as Any,
            ]
        }
    }

    private func send(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let id = Self.escaped(context.parameters.get("id") ?? "")
        return try await page("send", title: "Send \(id)", section: "sends", request, context) {
            let send = try await get("sends/\(id)", context)
            let query = Query(request)
            let status = query.optional("status").flatMap { ["allowed", "blocked", "invalid"].contains($0) ? $0 : nil }
            let cursor = query.optional("cursor").map { "&cursor=\(Self.escaped($0))" } ?? ""
            let report = try await get("sends/\(id)/report?limit=200" + (status.map { "&status=\($0)" } ?? "") + cursor, context)
            let counts = send["counts"]
            let scopes = try await scopeNames(context)
            let bars = StackedBars(days: ["recipients"], counts: ["recipients": [
                "allowed": Int(counts?["allowed"]?.int ?? 0), "blocked": Int(counts?["blocked"]?.int ?? 0), "invalid": Int(counts?["invalid"]?.int ?? 0),
            ]], label: "Recipients by status")
            return [
                "send": send.template, "created": Self.shown(send["created_at"]?.string),
                "scope_name": Self.scopeLabel(send["scope"]?.string ?? "", scopes), "chart": bars.horizontal, "legend": bars.legend,
                "status": status ?? "", "filters": [("", "every status"), ("allowed", "allowed"), ("blocked", "blocked"), ("invalid", "invalid")].map {
                    ["value": $0.0, "label": $0.1, "current": $0.0 == (status ?? "")]
                },
                "entries": (report["entries"]?.array ?? []).map { entry -> [String: Any] in
                    var values = entry.template as? [String: Any] ?? [:]
                    values["reason_label"] = Self.reasonLabel(entry["reason"]?.string)
                    values["blocked"] = entry["status"]?.string == "blocked"
                    if let block = entry["blocked_by"]?.array?.first, var shown = block.template as? [String: Any] {
                        shown["scope_name"] = Self.scopeLabel(block["scope"]?.string ?? "", scopes)
                        values["block"] = shown
                    }
                    return values
                },
                "next_cursor": report["next_cursor"]?.string as Any,
            ]
        }
    }

    /// The API's CSV report, passed through.
    private func sendCSV(_ context: HushRequestContext) async throws -> Response {
        let id = Self.escaped(context.parameters.get("id") ?? "")
        return try await api.raw(.get, "sends/\(id)/report.csv", as: try context.signedIn().user.principal, context: context)
    }
}
