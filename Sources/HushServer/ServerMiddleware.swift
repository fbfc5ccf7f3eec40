import Hummingbird
import Logging
import HushCore

/// Headers every answer carries: no content sniffing of JSON (or anything else).
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = HushRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.xContentTypeOptions] = "nosniff"
        return response
    }
}

/// Attributes a request that came through a trusted proxy to the client it forwards for.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = HushRequestContext
    let proxies: TrustedProxies

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.remoteIP = proxies.client(
            peer: context.remoteIP, forwarded: request.headers[values: .forwarded], forwardedFor: request.headers[values: .xForwardedFor])
        return try await next(request, context)
    }
}

/// One log line per request (`--access-log`): method, route template, status, duration and the
/// key's id. Never an address or a query string.
struct AccessLog: Sendable {
    let authenticator: KeyAuthenticator

    func log(_ request: Request, route: String, status: Int, duration: Duration, logger: Logger) {
        var metadata: Logger.Metadata = [
            "http.method": "\(request.method.rawValue)", "http.route": "\(route)", "http.status": "\(status)",
            "duration_ms": "\(duration.milliseconds)",
        ]
        if let header = request.headers[.authorization], header.hasPrefix("Bearer "),
           let id = authenticator.cachedPrincipal(for: String(header.dropFirst(7)))?.keyID {
            metadata["key.id"] = "\(id)"
        }
        logger.info("request", metadata: metadata)
    }
}

extension Duration {
    var milliseconds: Int64 {
        components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000
    }
}

extension HTTPFields.Element.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let forwarded = Self("Forwarded")!
    static let xForwardedFor = Self("X-Forwarded-For")!
}

extension [UInt8] {
    /// Equality that takes as long whatever the first difference (for tokens).
    func constantTimeEquals(_ other: [UInt8]) -> Bool {
        guard count == other.count else { return false }
        var difference: UInt8 = 0
        for index in indices { difference |= self[index] ^ other[index] }
        return difference == 0
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
