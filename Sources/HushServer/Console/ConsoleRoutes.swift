import Foundation
import Hummingbird
import HushCore
import HushStore

/// The console: `/` sends a browser to it, `/console/login` signs in, and every other
/// `/console` page runs behind the session middleware, doing what it does through `ConsoleAPI`.
struct ConsoleRoutes: Sendable {
    static let cookieName = "hush_session"
    /// The sign-in form's token, also in this cookie (a double submit): a form posted from
    /// another site cannot read the cookie, so cannot sign a browser into another account.
    static let signInCookieName = "hush_sign_in"

    let accounts: ConsoleAccounts
    let api: ConsoleAPI
    let store: any Store
    /// Cookies are `Secure` when the public URL is https.
    let secureCookies: Bool
    let now: @Sendable () -> Date

    func register(on router: Router<HushRequestContext>) {
        router.get("/") { request, _ in
            let signedIn = try await session(of: request) != nil
            return ConsoleView.redirect(signedIn ? "/console" : "/console/login")
        }
        for (file, type, text) in [("console.css", "text/css", ConsoleView.stylesheet), ("console.js", "text/javascript", ConsoleView.script)] {
            router.get(RouterPath("console/" + file)) { _, _ in
                var headers = HTTPFields()
                headers[.contentType] = type + "; charset=utf-8"
                headers[.cacheControl] = "public, max-age=300"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
            }
        }
        router.get("console/login") { request, _ in
            if try await session(of: request) != nil { return ConsoleView.redirect("/console") }
            return login(notice: Query(request).optional("notice").flatMap { ConsoleView.notices[$0] })
        }
        router.post("console/login") { request, context in try await signIn(request, context) }

        let console = router.group("console").add(middleware: ConsoleSessionMiddleware(routes: self))
        console.post("logout") { _, context in
            let signedIn = try context.signedIn()
            try await accounts.signOut(signedIn.token)
            var response = ConsoleView.redirect("/console/login", notice: "signed_out")
            response.setCookie(cookie(value: "", maxAge: 0))
            return response
        }
        let pages = ConsolePages(api: api, store: store, accounts: accounts, now: now)
        pages.register(on: console)
    }

    /// The signed-in user of the request's session cookie, if any.
    func session(of request: Request) async throws -> (ConsoleUser, SessionToken)? {
        guard let value = request.cookies[Self.cookieName]?.value, !value.isEmpty else { return nil }
        let token = SessionToken(secret: value)
        guard let user = try await accounts.session(token) else { return nil }
        return (user, token)
    }

    func cookie(value: String, maxAge: Int?) -> Cookie {
        Cookie(name: Self.cookieName, value: value, maxAge: maxAge, path: "/", secure: secureCookies, httpOnly: true, sameSite: .lax)
    }

    /// The sign-in page, with a fresh form token in the form and in its cookie.
    private func login(email: String = "", problem: String? = nil, notice: String? = nil, status: HTTPResponse.Status = .ok) -> Response {
        let token = SessionToken.generate().secret
        let values = ConsoleView.cleaned(["email": email, "problem": problem as Any, "notice": notice as Any, "csrf": token])
        var response = ConsoleView.html(ConsoleView.library.render(values, withTemplate: "console-login") ?? "", status: status)
        response.setCookie(Cookie(
            name: Self.signInCookieName, value: token, maxAge: 3_600, path: "/console/login", secure: secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    private func signIn(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        guard ConsoleSessionMiddleware.sameOrigin(request) else { throw HushError(.forbidden, "a sign-in must come from the console's own page") }
        let form = try await FormBody(request, context: context, limit: 16 * 1024)
        let email = form.first("email") ?? ""
        let expected = request.cookies[Self.signInCookieName]?.value ?? ""
        guard !expected.isEmpty, Array((form.first("_csrf") ?? "").utf8).constantTimeEquals(Array(expected.utf8)) else {
            return login(email: email, problem: "The sign-in page had expired; sign in again.", status: .forbidden)
        }
        do {
            let (token, _) = try await accounts.signIn(email: email, password: form.first("password") ?? "", from: context.remoteIP)
            var response = ConsoleView.redirect("/console")
            response.setCookie(cookie(value: token.secret, maxAge: nil))
            response.setCookie(Cookie(name: Self.signInCookieName, value: "", maxAge: 0, path: "/console/login", secure: secureCookies, httpOnly: true, sameSite: .strict))
            return response
        } catch let error as HushError where error.code == .rateLimited {
            return login(email: email, problem: error.message, status: .tooManyRequests)
        } catch let problem as Problem where problem.status == 401 {
            return login(email: email, problem: problem.detail, status: .unauthorized)
        }
    }
}

/// Finds the session of every `/console` request behind it: without one, a browser is sent to
/// sign in. Every form post must carry the session's CSRF token (`_csrf`), and a post whose
/// `Origin` is another site's is refused.
struct ConsoleSessionMiddleware: RouterMiddleware {
    typealias Context = HushRequestContext
    let routes: ConsoleRoutes

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let (user, token) = try await routes.session(of: request) else {
            return ConsoleView.redirect("/console/login")
        }
        guard let organization = try await routes.store.organization(user.organization) else {
            return ConsoleView.redirect("/console/login")
        }
        var request = request
        if request.method != .get, request.method != .head {
            guard Self.sameOrigin(request) else { throw HushError(.forbidden, "a console form must be posted from the console") }
            _ = try await request.collectBody(upTo: context.maxUploadSize)
            let form = try await FormBody(request, context: context, limit: context.maxUploadSize)
            let given = form.first("_csrf") ?? ""
            guard Array(given.utf8).constantTimeEquals(Array(token.csrfToken.utf8)) else {
                throw HushError(.forbidden, "the form is out of date; open the page again and retry")
            }
        }
        var context = context
        let signedIn = ConsoleSignedIn(user: user, token: token, organizationName: organization.name)
        context.console = signedIn
        do {
            return try await next(request, context)
        } catch let failure as ConsoleFailure {
            return Self.failed(failure.message, status: failure.status, signedIn: signedIn)
        } catch {
            // A refusal (403, 404, 409…) is a page in the console, not JSON.
            let problem = ProblemMiddleware<HushRequestContext>.problem(for: error)
            if problem.status >= 500 { context.logger.error("a console page failed", metadata: ["error": "\(error)"]) }
            return Self.failed(problem.detail, status: problem.status, signedIn: signedIn)
        }
    }

    static func failed(_ message: String, status: Int, signedIn: ConsoleSignedIn) -> Response {
        ConsoleView.page("layout", title: "Not done", section: "-", ["problem": message], signedIn: signedIn, status: HTTPResponse.Status(code: status))
    }

    /// A request without `Origin` (an old browser, a same-origin GET) passes; one with it must
    /// name this host.
    static func sameOrigin(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return true }
        guard let host = request.head.authority else { return false }
        return origin == "http://" + host || origin == "https://" + host
    }
}
