import Foundation
import Hummingbird
import HushCore

extension ConsolePages {
    func registerSettings(on console: Group) {
        console.get("settings") { request, context in try await settings(request, context) }
        console.post("settings") { request, context in try await saveSettings(request, context) }
        console.get("settings/preview") { request, _ in preview(request) }
        console.post("settings/scopes") { request, context in try await nameScope(request, context) }
        console.post("settings/keys") { request, context in try await createKey(request, context) }
        console.post("settings/keys/:id/revoke") { _, context in try await revokeKey(context) }
        console.post("settings/users") { request, context in try await createUser(request, context) }
        console.post("settings/users/:id/disable") { _, context in try await disableUser(context) }
    }

    private func settings(_ request: Request, _ context: HushRequestContext, extra: [String: Any] = [:], status: HTTPResponse.Status = .ok) async throws -> Response {
        try await page("settings", title: "Settings", section: "settings", request, context, status: status) {
            var values = extra
            let settings = try await get("settings", context)
            values["settings"] = settings.template
            for kind in ["opt_out", "opt_in", "help"] {
                values["keywords_" + kind] = (settings["keywords"]?[kind]?.array ?? []).compactMap(\.string).joined(separator: ", ")
            }
            values["scopes"] = (try await get("scopes", context)["scopes"]?.array ?? []).map(\.template)
            values["preview_query"] = Self.previewQuery(
                name: settings["brand_name"]?.string, logo: settings["brand_logo_url"]?.string, color: settings["brand_color"]?.string)
            if try context.signedIn().user.role == .admin {
                values["keys"] = (try await get("keys", context)["keys"]?.array ?? []).map { key -> [String: Any] in
                    var values = key.template as? [String: Any] ?? [:]
                    values["created"] = Self.shown(key["created_at"]?.string)
                    values["used"] = Self.shown(key["last_used_at"]?.string)
                    return values
                }
                values["users"] = (try await get("users", context)["users"]?.array ?? []).map { user -> [String: Any] in
                    var values = user.template as? [String: Any] ?? [:]
                    values["signed_in"] = Self.shown(user["last_sign_in_at"]?.string)
                    values["disabled"] = user["disabled_at"]?.string != nil
                    return values
                }
            }
            return values
        }
    }

    static func previewQuery(name: String?, logo: String?, color: String?) -> String {
        [("brand_name", name), ("brand_logo_url", logo), ("brand_color", color)].compactMap { key, value in
            value.map { "\(key)=\(escaped($0))" }
        }.joined(separator: "&")
    }

    /// Settings as the form gives them: an empty optional field clears it, the Twilio token
    /// changes only when one is typed.
    private func saveSettings(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        func optional(_ name: String) -> Any { (form.first(name).flatMap { $0.isEmpty ? nil : $0 }) ?? NSNull() }
        func words(_ name: String) -> [String] { (form.first(name) ?? "").split(whereSeparator: { $0 == "," || $0.isNewline }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        var json: [String: Any] = [
            "granular_opt_outs": form.first("granular_opt_outs") == "on", "default_region": optional("default_region"),
            "brand_name": optional("brand_name"), "brand_logo_url": optional("brand_logo_url"), "brand_color": optional("brand_color"),
            "help_text": form.first("help_text") ?? "",
            "keywords": ["opt_out": words("keywords_opt_out"), "opt_in": words("keywords_opt_in"), "help": words("keywords_help")],
        ]
        if let token = form.first("twilio_auth_token"), !token.isEmpty { json["twilio_auth_token"] = token }
        let answer = try await call(.patch, "settings", json: json, context)
        guard answer.ok else { return try await settings(request, context, extra: Self.refused(answer, form: form), status: HTTPResponse.Status(code: answer.status)) }
        return ConsoleView.redirect("/console/settings", notice: "saved")
    }

    /// The preference center with the branding typed (not yet saved), for the settings page's
    /// frame: the organization's lists and channels, a sample sender.
    private func preview(_ request: Request) -> Response {
        let query = Query(request)
        var branding = Branding(displayName: query.optional("brand_name"), logoURL: query.optional("brand_logo_url"), color: query.optional("brand_color"))
        if (try? branding.validated()) == nil { branding = Branding(displayName: query.optional("brand_name")) }
        let organization = Organization(
            id: OrganizationID(rawValue: 0), name: branding.displayName ?? "Your organization",
            settings: OrganizationSettings(branding: branding), defaultList: ListID(rawValue: 0))
        let brand = Brand(organization)
        var response = PageText.render("preferences", status: .ok, [
            "title": PageText.string("preferences_title"), "brand": brand.values, "address": "ann@example.com", "action": "", "resubscribe_action": "",
            "csrf": "", "scopes": PublicPages.scopeChoices(try! Scope(parsing: "sales/rep-1"), names: [:], brand: brand),
            "granular": true, "channels": ["email", "sms"].map { ["value": $0, "label": PageText.string("channel_" + $0), "checked": $0 == "email"] },
            "has_lists": false, "lists": [[String: Any]](), "blocked": false,
        ])
        response.headers[.xFrameOptions] = "SAMEORIGIN"
        response.headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; img-src https:; form-action 'none'; frame-ancestors 'self'"
        return response
    }

    private func nameScope(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        let name = form.first("display_name") ?? ""
        let answer = try await call(.put, "scopes/\(Self.escaped(form.first("path") ?? ""))", json: ["display_name": name.isEmpty ? NSNull() as Any : name], context)
        guard answer.ok else { return try await settings(request, context, extra: Self.refused(answer, form: form, prefix: "scope"), status: HTTPResponse.Status(code: answer.status)) }
        return ConsoleView.redirect("/console/settings", notice: "saved")
    }

    /// A new key, shown on this answer only.
    private func createKey(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        let answer = try await call(.post, "keys", json: ["role": form.first("role") ?? "member"], context)
        guard answer.ok else { return try await settings(request, context, extra: Self.refused(answer, form: form), status: HTTPResponse.Status(code: answer.status)) }
        return try await settings(request, context, extra: [
            "notice": "The new \(answer.json["role"]?.string ?? "") key is below. Copy it now: it is not shown again.", "secret": answer.json["key"]?.string ?? "",
        ], status: .created)
    }

    private func revokeKey(_ context: HushRequestContext) async throws -> Response {
        return try await act(.delete, "keys/\(Self.escaped(context.parameters.get("id") ?? ""))", context, then: "/console/settings", notice: "revoked")
    }

    /// A console user; a password left empty is generated and shown on this answer only.
    private func createUser(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let form = try await form(request, context)
        var json: [String: Any] = ["email": form.first("email") ?? "", "role": form.first("role") ?? "member"]
        if let password = form.first("password"), !password.isEmpty { json["password"] = password }
        let answer = try await call(.post, "users", json: json, context)
        guard answer.ok else { return try await settings(request, context, extra: Self.refused(answer, form: form, prefix: "user"), status: HTTPResponse.Status(code: answer.status)) }
        var extra: [String: Any] = ["notice": "Created \(answer.json["email"]?.string ?? "")."]
        if let password = answer.json["password"]?.string {
            extra["notice"] = "Created \(answer.json["email"]?.string ?? ""). Their password is below; pass it on now, it is not shown again."
            extra["secret"] = password
        }
        return try await settings(request, context, extra: extra, status: .created)
    }

    private func disableUser(_ context: HushRequestContext) async throws -> Response {
        return try await act(.delete, "users/\(Self.escaped(context.parameters.get("id") ?? ""))", context, then: "/console/settings", notice: "disabled")
    }
}
