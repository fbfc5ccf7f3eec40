import Foundation
import Hummingbird
import HushCore

extension ConsolePages {
    static let webhookEvents = ["opt_out.created", "opt_in.created", "opt_in.requested", "inbound.needs_review", "send.blocked", "connector.failed"]

    func registerWebhooks(on console: Group) {
        console.get("webhooks") { request, context in try await webhooks(request, context) }
        console.post("webhooks") { request, context in try await createWebhook(request, context) }
        console.get("webhooks/:id") { request, context in try await webhook(request, context) }
        console.post("webhooks/:id") { request, context in try await updateWebhook(request, context) }
        console.post("webhooks/:id/delete") { _, context in try await deleteWebhook(context) }
        console.post("webhooks/:id/rotate") { request, context in try await rotateWebhook(request, context) }
        console.post("webhooks/:id/replay") { request, context in try await replayWebhook(request, context) }
        console.post("deliveries/:id/retry") { request, context in try await retryDelivery(request, context) }
    }

    private func webhooks(_ request: Request, _ context: HushRequestContext, extra: [String: Any] = [:], status: HTTPResponse.Status = .ok) async throws -> Response {
        try await page("webhooks", title: "Webhooks", section: "webhooks", request, context, status: status) {
            var values = extra
            let lists = try await listNames(context)
            values["webhooks"] = (try await get("webhooks", context)["webhooks"]?.array ?? []).map { hook -> [String: Any] in
                var values = hook.template as? [String: Any] ?? [:]
                values["event_names"] = (hook["events"]?.array ?? []).compactMap(\.string).joined(separator: ", ")
                values["list_names"] = hook["lists"]?.array.map { $0.compactMap { $0.int.flatMap { lists[$0] } }.joined(separator: ", ") } ?? "every list"
                return values
            }
            values["events"] = Self.webhookEvents.map { ["name": $0] }
            values["lists"] = lists.sorted { $0.key < $1.key }.map { ["id": Int($0.key), "name": $0.value] }
            return values
        }
    }

    /// A new endpoint; its signing secret is shown on this answer only.
    private func createWebhook(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        var json: [String: Any] = ["url": form.first("url") ?? "", "events": form.all("events")]
        let lists = form.all("lists").compactMap { Int($0) }
        if !lists.isEmpty { json["lists"] = lists }
        let answer = try await call(.post, "webhooks", json: json, context)
        guard answer.ok else { return try await webhooks(request, context, extra: Self.refused(answer, form: form), status: HTTPResponse.Status(code: answer.status)) }
        return try await webhooks(request, context, extra: [
            "notice": "Created. Copy the signing secret now: it is not shown again.", "secret": answer.json["secret"]?.string ?? "",
        ], status: .created)
    }

    private func webhookID(_ context: HushRequestContext) -> String {
        Self.escaped(context.parameters.get("id") ?? "")
    }

    private func webhook(_ request: Request, _ context: HushRequestContext, extra: [String: Any] = [:]) async throws -> Response {
        try await page("webhook", title: "Webhook", section: "webhooks", request, context) {
            let id = webhookID(context)
            var values = extra
            let hook = try await get("webhooks/\(id)", context)
            values["webhook"] = hook.template
            values["event_names"] = (hook["events"]?.array ?? []).compactMap(\.string).joined(separator: ", ")
            let status = Query(request).optional("status").flatMap { ["pending", "succeeded", "dead"].contains($0) ? $0 : nil }
            let deliveries = try await get("webhooks/\(id)/deliveries?limit=100" + (status.map { "&status=\($0)" } ?? ""), context)
            values["deliveries"] = (deliveries["deliveries"]?.array ?? []).map { delivery -> [String: Any] in
                var values = delivery.template as? [String: Any] ?? [:]
                values["created"] = Self.shown(delivery["created_at"]?.string)
                values["next"] = Self.shown(delivery["next_attempt_at"]?.string)
                values["retryable"] = delivery["status"]?.string == "dead"
                values["failed"] = delivery["status"]?.string == "dead"
                return values
            }
            values["filters"] = [("", "every status"), ("pending", "pending"), ("succeeded", "succeeded"), ("dead", "dead")].map {
                ["value": $0.0, "label": $0.1, "current": $0.0 == (status ?? "")]
            }
            return values
        }
    }

    private func updateWebhook(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        return try await act(.patch, "webhooks/\(webhookID(context))", json: ["enabled": form.first("enabled") == "true"], context, then: "/console/webhooks/\(webhookID(context))", notice: "saved")
    }

    private func deleteWebhook(_ context: HushRequestContext) async throws -> Response {
        return try await act(.delete, "webhooks/\(webhookID(context))", context, then: "/console/webhooks", notice: "deleted")
    }

    /// A new secret, shown once on the page this post answers.
    private func rotateWebhook(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let answer = try await require(.post, "webhooks/\(webhookID(context))/rotate-secret", json: [String: Any](), context)
        return try await webhook(request, context, extra: [
            "notice": "The new signing secret is below; copy it now, it is not shown again. The old one signs beside it for a day.",
            "secret": answer.json["secret"]?.string ?? "",
        ])
    }

    private func replayWebhook(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        let answer = try await call(.post, "webhooks/\(webhookID(context))/replay", json: ["from_sequence": Int(form.first("from_sequence") ?? "") ?? 0], context)
        guard answer.ok else { return try await webhook(request, context, extra: Self.refused(answer, form: form)) }
        return ConsoleView.redirect("/console/webhooks/\(webhookID(context))", notice: "replayed")
    }

    private func retryDelivery(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        try await require(.post, "deliveries/\(Self.escaped(context.parameters.get("id") ?? ""))/retry", json: [String: Any](), context)
        let webhook = Int(form.first("webhook") ?? "") ?? 0
        return ConsoleView.redirect("/console/webhooks/\(webhook)", notice: "retried")
    }
}
