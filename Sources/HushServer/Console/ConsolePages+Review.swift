import Foundation
import Hummingbird
import HushCore

extension ConsolePages {
    func registerReview(on console: Group) {
        console.get("review") { request, context in try await review(request, context) }
        console.post("review/:id") { request, context in try await decide(request, context) }
        console.post("review/crm/:id") { _, context in try await dismiss(context) }
    }

    /// Inbound messages that might be opt-outs, and CRM fields unticked: with their text and
    /// context, for someone to decide.
    private func review(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        try await page("review", title: "Review", section: "review", request, context) {
            let waiting = try await get("review?limit=200", context)
            return [
                "messages": (waiting["messages"]?.array ?? []).map { message -> [String: Any] in
                    var values = message.template as? [String: Any] ?? [:]
                    values["received"] = Self.shown(message["received_at"]?.string)
                    values["from_path"] = Self.escaped(message["from"]?.string ?? "")
                    return values
                },
                "unchecks": (waiting["crm_unchecks"]?.array ?? []).map { uncheck -> [String: Any] in
                    var values = uncheck.template as? [String: Any] ?? [:]
                    values["changed"] = Self.shown(uncheck["changed_at"]?.string)
                    values["contact_path"] = Self.escaped(uncheck["contact"]?.string ?? "")
                    return values
                },
            ]
        }
    }

    private func decide(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        let id = Self.escaped(context.parameters.get("id") ?? "")
        return try await act(.post, "review/\(id)", json: ["decision": form.first("decision") ?? ""], context, then: "/console/review", notice: "decided")
    }

    private func dismiss(_ context: HushRequestContext) async throws -> Response {
        let id = Self.escaped(context.parameters.get("id") ?? "")
        return try await act(.post, "review/crm/\(id)", json: ["decision": "dismiss"], context, then: "/console/review", notice: "decided")
    }
}
