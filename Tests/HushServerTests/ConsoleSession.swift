import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// A browser's side of the console without a browser: form posts with the session cookie.
struct ConsoleSession {
    let client: any TestClientProtocol
    let cookie: String

    /// Signs in; nil when the console refused (the page's status is in `refused`).
    static func signIn(_ client: any TestClientProtocol, _ email: String, _ password: String) async throws -> (session: ConsoleSession?, status: HTTPResponse.Status) {
        let page = try await signInPage(client)
        return try await client.execute(
            uri: "/console/login", method: .post, headers: page.headers,
            body: ByteBuffer(string: "_csrf=\(page.token)&email=\(Self.encoded(email))&password=\(Self.encoded(password))")
        ) { response in
            guard let cookie = response.headers[values: .setCookie].first(where: { $0.hasPrefix("hush_session=") }) else { return (nil, response.status) }
            return (ConsoleSession(client: client, cookie: String(cookie.prefix { $0 != ";" })), response.status)
        }
    }

    /// A sign-in page's form token, and the headers of a post of its form (its cookie).
    static func signInPage(_ client: any TestClientProtocol) async throws -> (token: String, headers: HTTPFields) {
        try await client.execute(uri: "/console/login", method: .get) { response in
            let html = String(buffer: response.body)
            let token = html.range(of: #"name="_csrf" value=""#).map { String(html[$0.upperBound...].prefix { $0 != "\"" }) } ?? ""
            let cookie = response.headers[values: .setCookie].first { $0.hasPrefix("hush_sign_in=") }.map { String($0.prefix { $0 != ";" }) } ?? ""
            return (token, [.contentType: "application/x-www-form-urlencoded", .cookie: cookie])
        }
    }

    static func encoded(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
    }

    func get(_ path: String) async throws -> (status: HTTPResponse.Status, html: String, location: String?) {
        try await client.execute(uri: path, method: .get, headers: [.cookie: cookie]) { response in
            (response.status, String(buffer: response.body), response.headers[.location])
        }
    }

    /// The CSRF token of the page at `path`.
    func token(_ path: String = "/console") async throws -> String {
        let html = try await get(path).html
        guard let range = html.range(of: #"name="_csrf" value=""#) else { return "" }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    func post(_ path: String, _ fields: [(String, String)], token: String? = nil, origin: String? = nil) async throws -> (status: HTTPResponse.Status, html: String, location: String?) {
        let csrf = if let token { token } else { try await self.token() }
        let body = ([("_csrf", csrf)] + fields).map { "\($0.0)=\(Self.encoded($0.1))" }.joined(separator: "&")
        var headers: HTTPFields = [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"]
        if let origin { headers[.origin] = origin }
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            (response.status, String(buffer: response.body), response.headers[.location])
        }
    }
}
