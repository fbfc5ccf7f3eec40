import Foundation
import Hummingbird
import HushCore

extension ConsolePages {
    /// Each configuration in one sentence, as the setup form explains them.
    static let connectorModes: [(value: String, label: String, sentence: String)] = [
        ("shared_field", "Shared marketing field",
         "Hush and the CRM both read and write the CRM's standard Do-Not fields, so an opt-out on either side stops marketing and sales messages alike."),
        ("sales_field", "Separate sales field",
         "Hush reads and writes a custom sales opt-out field of its own and leaves the marketing fields as the CRM has them."),
        ("hush_only", "Hush only",
         "Nothing is written to the CRM: its fields may be read in, opted-out people are tracked in Hush, and records of people opted out everywhere can be left unlinked."),
    ]

    func registerConnectors(on console: Group) {
        console.get("connectors") { request, context in try await connectors(request, context) }
        console.post("connectors") { request, context in try await createConnector(request, context) }
        console.get("connectors/:id") { request, context in try await connector(request, context) }
        console.post("connectors/:id/:action") { request, context in try await connectorAction(request, context) }
    }

    private func connectors(_ request: Request, _ context: HushRequestContext, extra: [String: Any] = [:], status: HTTPResponse.Status = .ok) async throws -> Response {
        try await page("connectors", title: "Connectors", section: "connectors", request, context, status: status) {
            var values = extra
            var rows: [[String: Any]] = []
            for connector in try await get("connectors", context)["connectors"]?.array ?? [] {
                var row = connector.template as? [String: Any] ?? [:]
                let status = try await get("connectors/\(connector["id"]?.int ?? 0)/status", context)
                row["state"] = status["state"]?.string ?? ""
                row["healthy"] = status["state"]?.string == "ok"
                row["pending"] = Int(status["outbox_pending"]?.int ?? 0)
                rows.append(row)
            }
            values["connectors"] = rows
            let chosen = (values["form"] as? [String: Any])?["mode"] as? String ?? "shared_field"
            values["modes"] = Self.connectorModes.map { ["value": $0.value, "label": $0.label, "sentence": $0.sentence, "first": $0.value == chosen] }
            values["lists"] = try await listNames(context).sorted { $0.key < $1.key }.map { ["id": Int($0.key), "name": $0.value] }
            return values
        }
    }

    private func createConnector(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        var auth: [String: Any] = ["client_id": form.first("client_id") ?? "", "client_secret": form.first("client_secret") ?? ""]
        if let tenant = form.first("tenant"), !tenant.isEmpty { auth["tenant"] = tenant }
        var json: [String: Any] = [
            "name": form.first("name") ?? "", "provider": form.first("provider") ?? "dynamics", "instance_url": form.first("instance_url") ?? "",
            "auth": auth, "mode": form.first("mode") ?? "shared_field", "poll_seconds": Int(form.first("poll_seconds") ?? "") ?? 60,
            "entities": form.all("entities").isEmpty ? ["contact"] : form.all("entities"),
            "push_opt_ins": form.first("push_opt_ins") == "on", "skip_opted_out": form.first("skip_opted_out") == "on",
        ]
        for field in ["token_url", "scope", "sms_field", "sales_field", "on_crm_uncheck"] {
            if let value = form.first(field), !value.isEmpty { json[field] = value }
        }
        if let list = form.first("list").flatMap({ Int($0) }) { json["list"] = list }
        let answer = try await call(.post, "connectors", json: json, context)
        guard answer.ok, let id = answer.json["id"]?.int else {
            return try await connectors(request, context, extra: Self.refused(answer, form: form), status: HTTPResponse.Status(code: answer.status))
        }
        return ConsoleView.redirect("/console/connectors/\(id)", notice: "created")
    }

    private func connector(_ request: Request, _ context: HushRequestContext, extra: [String: Any] = [:]) async throws -> Response {
        try await page("connector", title: "Connector", section: "connectors", request, context) {
            let id = Self.escaped(context.parameters.get("id") ?? "")
            var values = extra
            let connector = try await get("connectors/\(id)", context)
            values["connector"] = connector.template
            values["mode_sentence"] = Self.connectorModes.first { $0.value == connector["mode"]?.string }?.sentence ?? ""
            values["fields"] = (connector["fields"]?.array ?? []).map(\.template)
            values["scope_name"] = Self.scopeLabel(connector["scope"]?.string ?? "", try await scopeNames(context))
            values["list_name"] = try await listNames(context)[connector["list"]?.int ?? 0] ?? "#\(connector["list"]?.int ?? 0)"
            let status = try await get("connectors/\(id)/status", context)
            var shown = status.template as? [String: Any] ?? [:]
            shown["last_run"] = Self.shown(status["last_run_at"]?.string)
            shown["last_success"] = Self.shown(status["last_success_at"]?.string)
            shown["lag"] = status["lag_seconds"]?.double.map { "\(Int($0.rounded())) s" } ?? "never read"
            values["status"] = shown
            values["log"] = (try await get("connectors/\(id)/log?limit=50", context)["entries"]?.array ?? []).map { entry -> [String: Any] in
                var values = entry.template as? [String: Any] ?? [:]
                values["when"] = Self.shown(entry["at"]?.string)
                return values
            }
            return values
        }
    }

    /// test, sync, dry-run, resync, enable, disable, delete: each the API's, its answer shown.
    private func connectorAction(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let id = Self.escaped(context.parameters.get("id") ?? "")
        let action = context.parameters.get("action") ?? ""
        let answer: ConsoleAPI.Answer
        switch action {
        case "test": answer = try await call(.post, "connectors/\(id)/test", context)
        case "sync": answer = try await call(.post, "connectors/\(id)/sync", context)
        case "dry-run": answer = try await call(.post, "connectors/\(id)/sync?dry_run=true", context)
        case "resync": answer = try await call(.post, "connectors/\(id)/resync", context)
        case "enable", "disable": answer = try await call(.patch, "connectors/\(id)", json: ["enabled": action == "enable"], context)
        case "delete":
            return try await act(.delete, "connectors/\(id)", context, then: "/console/connectors", notice: "deleted")
        default: throw HushError(.notFound, "no connector action \(action)")
        }
        guard answer.ok else { return try await connector(request, context, extra: ["problem": answer.detail ?? ""]) }
        var extra: [String: Any] = ["action": action]
        if action == "test" {
            extra["test"] = answer.json.template
        } else if let report = answer.json["report"] {
            extra["report"] = report.template
            extra["dry_run"] = answer.json["dry_run"]?.bool ?? false
            extra["would"] = ((report["would_record"]?.array ?? []) + (report["would_write"]?.array ?? []) + (report["would_review"]?.array ?? []))
                .compactMap(\.string).prefix(200).map { $0 }
        }
        return try await connector(request, context, extra: extra)
    }
}
