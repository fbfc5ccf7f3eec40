import Foundation
import Hummingbird
import HushCore

extension ConsolePages {
    func registerSequences(on console: Group) {
        console.get("sequences") { request, context in try await sequences(request, context) }
        console.post("sequences/rulesets") { request, context in try await createRuleset(request, context) }
        console.post("sequences/rulesets/:id") { request, context in try await updateRuleset(request, context) }
        console.post("sequences/rulesets/:id/delete") { _, context in try await deleteRuleset(context) }
        console.post("sequences/triggers") { request, context in try await createTrigger(request, context) }
        console.post("sequences/triggers/:id/delete") { _, context in try await deleteTrigger(context) }
    }

    /// Rulesets (what a sequence does when its recipient opts out) and triggers (call
    /// dispositions and message keywords that opt people out or back in).
    private func sequences(_ request: Request, _ context: HushRequestContext, extra: [String: Any] = [:], status: HTTPResponse.Status = .ok) async throws -> Response {
        try await page("sequences", title: "Sequences and triggers", section: "sequences", request, context, status: status) {
            var values = extra
            let lists = try await listNames(context)
            values["rulesets"] = (try await get("rulesets", context)["rulesets"]?.array ?? []).map { ruleset -> [String: Any] in
                var values = ruleset.template as? [String: Any] ?? [:]
                values["finishes"] = ruleset["on_opt_out"]?.string == "finish"
                return values
            }
            values["triggers"] = (try await get("triggers", context)["triggers"]?.array ?? []).map { trigger -> [String: Any] in
                let action = trigger["then"]?["opt_out"] ?? trigger["then"]?["opt_in"]
                return [
                    "id": Int(trigger["id"]?.int ?? 0), "on": trigger["on"]?.string ?? "",
                    "when": trigger["when"]?["disposition"]?.string ?? trigger["when"]?["keyword"]?.string ?? "",
                    "action": trigger["then"]?["opt_out"] != nil ? "opt out" : "opt back in",
                    "channels": (action?["channels"]?.array ?? []).compactMap(\.string).joined(separator: ", "),
                    "lists": (action?["lists"]?.array ?? []).compactMap { $0.int.flatMap { lists[$0] } }.joined(separator: ", "),
                ]
            }
            values["channels"] = (["all"] + Self.channels).map { ["name": $0] }
            values["lists"] = lists.sorted { $0.key < $1.key }.map { ["id": Int($0.key), "name": $0.value] }
            return values
        }
    }

    private static func rulesetJSON(_ form: FormBody) -> [String: Any] {
        var json: [String: Any] = ["name": form.first("name") ?? "", "on_opt_out": form.first("on_opt_out") ?? "skip_steps"]
        if let stage = form.first("opted_out_stage"), !stage.isEmpty { json["opted_out_stage"] = stage }
        return json
    }

    private func createRuleset(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        let answer = try await call(.post, "rulesets", json: Self.rulesetJSON(form), context)
        guard answer.ok else { return try await sequences(request, context, extra: Self.refused(answer, form: form, prefix: "ruleset"), status: HTTPResponse.Status(code: answer.status)) }
        return ConsoleView.redirect("/console/sequences", notice: "created")
    }

    private func updateRuleset(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        let answer = try await call(.patch, "rulesets/\(Self.escaped(context.parameters.get("id") ?? ""))", json: Self.rulesetJSON(form), context)
        guard answer.ok else { return try await sequences(request, context, extra: Self.refused(answer, form: form, prefix: "ruleset"), status: HTTPResponse.Status(code: answer.status)) }
        return ConsoleView.redirect("/console/sequences", notice: "saved")
    }

    private func deleteRuleset(_ context: HushRequestContext) async throws -> Response {
        return try await act(.delete, "rulesets/\(Self.escaped(context.parameters.get("id") ?? ""))", context, then: "/console/sequences", notice: "deleted")
    }

    private func createTrigger(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        let on = form.first("on") ?? "call.logged"
        let match = form.first("match") ?? ""
        var change: [String: Any] = [:]
        let channels = form.all("channels")
        if !channels.isEmpty { change["channels"] = channels }
        let lists = form.all("lists").compactMap { Int($0) }
        if !lists.isEmpty { change["lists"] = lists }
        let json: [String: Any] = [
            "on": on, "when": [on == "message.received" ? "keyword" : "disposition": match],
            "then": [form.first("action") == "opt_in" ? "opt_in" : "opt_out": change],
        ]
        let answer = try await call(.post, "triggers", json: json, context)
        guard answer.ok else { return try await sequences(request, context, extra: Self.refused(answer, form: form, prefix: "trigger"), status: HTTPResponse.Status(code: answer.status)) }
        return ConsoleView.redirect("/console/sequences", notice: "created")
    }

    private func deleteTrigger(_ context: HushRequestContext) async throws -> Response {
        return try await act(.delete, "triggers/\(Self.escaped(context.parameters.get("id") ?? ""))", context, then: "/console/sequences", notice: "deleted")
    }
}
