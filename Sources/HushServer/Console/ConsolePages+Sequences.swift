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
        console.get("sequences/triggers/:id") { request, context in try await trigger(request, context) }
        console.post("sequences/triggers/:id") { request, context in try await updateTrigger(request, context) }
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
            values["new_trigger"] = Self.triggerForm(
                (extra["form"] as? FormBody).map(TriggerChoice.init(form:)) ?? TriggerChoice(),
                action: "/console/sequences/triggers", button: "Create trigger", lists: lists, errors: extra["errors"] as? [String: Any] ?? [:])
            return values
        }
    }

    /// What the trigger form holds: the stored trigger's definition, or what was posted.
    struct TriggerChoice {
        var on = "call.logged"
        var match = ""
        var optIn = false
        var channels: Set<String> = []
        var lists: Set<Int64> = []

        init() {}

        init(form: FormBody) {
            on = form.first("on") ?? on
            match = form.first("match") ?? ""
            optIn = form.first("action") == "opt_in"
            channels = Set(form.all("channels"))
            lists = Set(form.all("lists").compactMap { Int64($0) })
        }

        init(stored trigger: JSONValue) {
            on = trigger["on"]?.string ?? on
            match = trigger["when"]?[on == "message.received" ? "keyword" : "disposition"]?.string ?? ""
            optIn = trigger["then"]?["opt_in"] != nil
            let change = trigger["then"]?["opt_out"] ?? trigger["then"]?["opt_in"]
            channels = Set((change?["channels"]?.array ?? []).compactMap(\.string))
            lists = Set((change?["lists"]?.array ?? []).compactMap(\.int))
        }

        /// The body of `POST` and `PUT /v1/triggers`.
        var json: [String: Any] {
            var change: [String: Any] = [:]
            if !channels.isEmpty { change["channels"] = channels.sorted() }
            if !lists.isEmpty { change["lists"] = lists.sorted().map { Int($0) } }
            return [
                "on": on, "when": [on == "message.received" ? "keyword" : "disposition": match],
                "then": [optIn ? "opt_in" : "opt_out": change],
            ]
        }
    }

    /// The values of the `trigger-form` partial.
    private static func triggerForm(
        _ choice: TriggerChoice, action: String, button: String, lists: [Int64: String], errors: [String: Any]
    ) -> [String: Any] {
        // The API names the field inside `then` (`then.opt_out.channels`); the form shows it once.
        let thenError = errors.filter { $0.key.hasPrefix("then") }.map { "\($0.value)" }.sorted().first
        return [
            "action": action, "button": button, "match": choice.match, "message": choice.on == "message.received", "opt_in": choice.optIn,
            "channels": (["all"] + Self.channels).map { ["name": $0, "checked": choice.channels.contains($0)] },
            // A list the trigger names that was deleted since stays shown and ticked: saving
            // without a look would otherwise drop it and mean the default list.
            "lists": lists.sorted { $0.key < $1.key }.map { ["id": Int($0.key), "name": $0.value, "checked": choice.lists.contains($0.key)] }
                + choice.lists.subtracting(lists.keys).sorted().map { ["id": Int($0), "name": "#\($0) (deleted)", "checked": true] },
            "errors": errors, "then_error": thenError ?? "",
        ]
    }

    /// One trigger, to change.
    private func trigger(_ request: Request, _ context: HushRequestContext, extra: [String: Any] = [:], status: HTTPResponse.Status = .ok) async throws -> Response {
        let id = Self.escaped(context.parameters.get("id") ?? "")
        return try await page("trigger", title: "Trigger", section: "sequences", request, context, status: status) {
            let stored = try await get("triggers/\(id)", context)
            let choice = (extra["form"] as? FormBody).map(TriggerChoice.init(form:)) ?? TriggerChoice(stored: stored)
            var values = extra
            values["id"] = id
            values["form"] = Self.triggerForm(
                choice, action: "/console/sequences/triggers/\(id)", button: "Save trigger", lists: try await listNames(context),
                errors: extra["errors"] as? [String: Any] ?? [:])
            return values
        }
    }

    private func updateTrigger(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let id = Self.escaped(context.parameters.get("id") ?? "")
        return try await sendTrigger(.put, "triggers/\(id)", request, context, notice: "saved") { extra, status in
            try await trigger(request, context, extra: extra, status: status)
        }
    }

    /// Posts the trigger form to the API; a refusal shows `page` again with what was typed.
    private func sendTrigger(
        _ method: HTTPRequest.Method, _ path: String, _ request: Request, _ context: HushRequestContext, notice: String,
        page: ([String: Any], HTTPResponse.Status) async throws -> Response
    ) async throws -> Response {
        let form = try await form(request, context)
        let answer = try await call(method, path, json: TriggerChoice(form: form).json, context)
        guard answer.ok else {
            var extra = Self.refused(answer, form: form, prefix: "trigger")
            extra["form"] = form
            return try await page(extra, HTTPResponse.Status(code: answer.status))
        }
        return ConsoleView.redirect("/console/sequences", notice: notice)
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
        try await sendTrigger(.post, "triggers", request, context, notice: "created") { extra, status in
            try await sequences(request, context, extra: extra, status: status)
        }
    }

    private func deleteTrigger(_ context: HushRequestContext) async throws -> Response {
        return try await act(.delete, "triggers/\(Self.escaped(context.parameters.get("id") ?? ""))", context, then: "/console/sequences", notice: "deleted")
    }
}
