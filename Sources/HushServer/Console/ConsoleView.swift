import Foundation
import Hummingbird
import HushCore
import Mustache

/// The console's templates (`Pages/console`), its stylesheet, and how a page is answered.
enum ConsoleView {
    static let templates = [
        "layout", "login", "overview", "lists", "list", "people", "person", "audience", "sends", "send", "review", "webhooks",
        "webhook", "sequences", "trigger", "trigger-form", "connectors", "connector", "settings",
    ]

    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for name in templates {
            guard let url = Bundle.module.url(forResource: name, withExtension: "mustache", subdirectory: "Pages/console"),
                  let text = try? String(contentsOf: url, encoding: .utf8)
            else { preconditionFailure("Pages/console/\(name).mustache is missing from the HushServer resources") }
            do {
                try library.register(text, named: "console-" + name)
            } catch {
                preconditionFailure("Pages/console/\(name).mustache does not parse: \(error)")
            }
        }
        return library
    }()

    static let stylesheet: String = {
        guard let url = Bundle.module.url(forResource: "console", withExtension: "css", subdirectory: "Pages/console"),
              let text = try? String(contentsOf: url, encoding: .utf8)
        else { preconditionFailure("Pages/console/console.css is missing from the HushServer resources") }
        return text
    }()

    static let script: String = {
        guard let url = Bundle.module.url(forResource: "console", withExtension: "js", subdirectory: "Pages/console"),
              let text = try? String(contentsOf: url, encoding: .utf8)
        else { preconditionFailure("Pages/console/console.js is missing from the HushServer resources") }
        return text
    }()

    /// The sections in the navigation: path and label.
    static let sections: [(path: String, label: String)] = [
        ("", "Overview"), ("lists", "Lists"), ("people", "People"), ("audience", "Audience check"), ("sends", "Sends"),
        ("review", "Review"), ("webhooks", "Webhooks"), ("sequences", "Sequences"), ("connectors", "Connectors"), ("settings", "Settings"),
    ]

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.xFrameOptions] = "DENY"
        // The public pages send no referrer at all; the console keeps it within its origin,
        // because under `no-referrer` a browser's form post carries `Origin: null` (Fetch,
        // "append a request Origin header"), and the console checks a form's origin.
        headers[.referrerPolicy] = "same-origin"
        headers[.contentSecurityPolicy] =
            "default-src 'none'; style-src 'self'; img-src 'self' data: https:; script-src 'self'; connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A signed-in page: `template` inside the layout, with the user, the CSRF token and the
    /// navigation.
    static func page(
        _ template: String, title: String, section: String, _ values: [String: Any], signedIn: ConsoleSignedIn,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        var values = cleaned(values)
        // `{{#has_x}}` wraps a list `x` that is not empty (a template cannot ask that of an array).
        for (key, value) in values {
            if let array = value as? [Any] { values["has_" + key] = !array.isEmpty }
        }
        values["title"] = title
        values["csrf"] = signedIn.token.csrfToken
        values["organization"] = signedIn.organizationName
        values["admin"] = signedIn.user.role == .admin
        values["me"] = ["email": signedIn.user.email, "role": signedIn.user.role.rawValue]
        // Connectors are for admins only (the API refuses members), so members are not shown them.
        values["nav"] = sections.filter { $0.path != "connectors" || signedIn.user.role == .admin }.map {
            ["href": "/console" + ($0.path.isEmpty ? "" : "/" + $0.path), "label": $0.label, "current": $0.path == section]
        }
        return html(library.render(values, withTemplate: "console-" + template) ?? "", status: status)
    }

    /// The values without their nils, at every depth: a template shows a missing value as
    /// nothing, but a nil it was handed as "nil".
    static func cleaned(_ values: [String: Any]) -> [String: Any] {
        values.compactMapValues(cleaned)
    }

    static func cleaned(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return nil }
            return cleaned(wrapped)
        }
        if let dictionary = value as? [String: Any] { return cleaned(dictionary) }
        if let array = value as? [Any] { return array.compactMap(cleaned) }
        return value
    }

    /// What a redirect's `notice` code says on the next page. Codes, not text, travel in the
    /// URL, so nobody can make the console say what they like.
    static let notices: [String: String] = [
        "signed_out": "You are signed out.", "saved": "Saved.", "created": "Created.", "deleted": "Deleted.", "removed": "Removed.",
        "opted_out": "Opted out.", "opted_in": "Opted back in, with the consent recorded.", "requested": "Asked the person to confirm; the confirmation goes out through the opt_in.requested webhook.",
        "erased": "Erased.", "added": "Added.", "retried": "Queued again.", "replayed": "Events queued again.", "decided": "Decided.",
        "disabled": "Disabled; the user's sessions ended.", "revoked": "Revoked.", "synced": "Sync finished.",
    ]

    /// 303 to `location`, with a notice code for the page it lands on.
    static func redirect(_ location: String, notice: String? = nil) -> Response {
        var location = location
        if let notice { location += (location.contains("?") ? "&" : "?") + "notice=" + notice }
        return Response(status: .seeOther, headers: [.location: location])
    }
}

/// Who is signed in on a console request: the user, the session's token, the organization's name.
struct ConsoleSignedIn: Sendable {
    let user: ConsoleUser
    let token: SessionToken
    let organizationName: String
}
