import Foundation
import Hummingbird
import HushCore

/// An RFC 9457 problem: every error the API answers is one, as `application/problem+json`.
public struct Problem: Error, Encodable, Sendable {
    public struct FieldError: Encodable, Sendable, Equatable {
        public let field: String
        public let message: String
    }

    public let type: String
    public let title: String
    public let status: Int
    public let detail: String
    public let errors: [FieldError]
    /// Set on failures the log describes in full.
    public var requestID: String?
    /// Seconds the client should wait before asking again (`Retry-After`).
    var retryAfter: Int?

    enum CodingKeys: String, CodingKey {
        case type, title, status, detail, errors
        case requestID = "request_id"
    }

    init(_ status: HTTPResponse.Status, type: String, detail: String, errors: [FieldError] = []) {
        self.type = "https://hush.dev/problems/" + type
        self.title = status.reasonPhrase
        self.status = status.code
        self.detail = detail
        self.errors = errors
    }

    static func unauthorized(_ detail: String) -> Problem {
        Problem(.unauthorized, type: "unauthorized", detail: detail)
    }

    static func invalid(_ field: String, _ message: String) -> Problem {
        Problem(.badRequest, type: "invalid_input", detail: message, errors: [FieldError(field: field, message: message)])
    }

    /// The problem a domain error stands for.
    init(_ error: HushError) {
        let errors = error.field.map { [FieldError(field: $0, message: error.message)] } ?? []
        switch error.code {
        case .invalidInput: self.init(.badRequest, type: "invalid_input", detail: error.message, errors: errors)
        case .notFound: self.init(.notFound, type: "not_found", detail: error.message, errors: errors)
        case .conflict: self.init(.conflict, type: "conflict", detail: error.message, errors: errors)
        case .evidenceRequired:
            self.init(.unprocessableContent, type: "evidence_required", detail: error.message, errors: errors)
        case .forbidden: self.init(.forbidden, type: "forbidden", detail: error.message, errors: errors)
        case .storage: self.init(.serviceUnavailable, type: "storage", detail: error.message, errors: errors)
        case .limitExceeded: self.init(.unprocessableContent, type: "limit_exceeded", detail: error.message, errors: errors)
        case .rateLimited: self.init(.tooManyRequests, type: "rate_limited", detail: error.message, errors: errors)
        case .expired: self.init(.gone, type: "expired", detail: error.message, errors: errors)
        default: self.init(.internalServerError, type: error.code.description, detail: error.message, errors: errors)
        }
    }

    /// The same problem, its detail naming the request id the log has.
    func quoting(requestID id: String) -> Problem {
        var quoted = Problem(
            HTTPResponse.Status(code: status), type: String(type.dropFirst("https://hush.dev/problems/".count)),
            detail: detail + " (request id \(id))", errors: errors)
        quoted.requestID = id
        quoted.retryAfter = retryAfter
        return quoted
    }

    func response() -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(self)) ?? Data()
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: HTTPResponse.Status(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Turns every error a route throws into a problem response, so no client sees an empty body.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var problem = Self.problem(for: error)
            let underlying = (error as? HushError)?.underlying
            // A 503 that says when to ask again (a node catching up) is expected, not a failure.
            if (problem.status >= 500 && problem.retryAfter == nil) || underlying != nil {
                // The client gets a fixed sentence and an id to quote; the log gets everything.
                let id = String(UInt64.random(in: 0...UInt64.max), radix: 36)
                context.logger.error("request failed", metadata: [
                    "request.id": "\(id)", "route": "\(context.endpointPath ?? "unmatched")",
                    "error": "\(underlying ?? String(reflecting: error))",
                ])
                problem = problem.quoting(requestID: id)
            }
            return problem.response()
        }
    }

    static func problem(for error: any Error) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as HushError:
            return Problem(error)
        case let error as DecodingError:
            return Problem(error)
        case let error as any HTTPResponseError:
            let status = error.status
            let detail = switch status {
            case .contentTooLarge: "the request body is larger than \(HushRequestContext.maximumBodyBytes) bytes"
            case .notFound: "no such resource"
            case .methodNotAllowed: "the resource does not take this method"
            default: (error as? HTTPError)?.body ?? status.reasonPhrase
            }
            return Problem(status, type: status == .contentTooLarge ? "too_large" : "http", detail: detail)
        default:
            return Problem(.internalServerError, type: "internal", detail: "the server failed; nothing was applied")
        }
    }
}

extension Problem {
    /// A body that is not the JSON the operation takes, with the field it went wrong at.
    init(_ error: DecodingError) {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.reduce(into: "") { path, key in
                if let index = key.intValue {
                    path += "[\(index)]"
                } else {
                    path += (path.isEmpty ? "" : ".") + key.stringValue
                }
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            self = .invalid(field, "\(field) is required")
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            self = .invalid(field.isEmpty ? "body" : field, "\(field.isEmpty ? "the body" : field) must be \(Self.describe(type))")
        case .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            self = .invalid(field, "\(field) must be \(Self.describe(type)), not null")
        case .dataCorrupted(let context):
            if let unknown = context.underlyingError as? UnknownFields {
                let field = path(context.codingPath + [AnyKey(unknown.names[0])])
                self = .invalid(field, "unknown field\(unknown.names.count > 1 ? "s" : "") \(unknown.names.map { "\"\($0)\"" }.joined(separator: ", "))")
            } else if context.codingPath.isEmpty {
                self = .invalid("body", "the body is not valid JSON")
            } else {
                let field = path(context.codingPath)
                self = .invalid(field, "\(field): \(context.debugDescription)")
            }
        @unknown default:
            self = .invalid("body", "the body could not be read")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type: "an integer"
        case is [Any].Type: "an array"
        default: "an object"
        }
    }
}

extension HushError {
    /// Runs a batch write, naming the store's `items[i].field` as the request named it
    /// (`addresses[i]`, `entries[i].address`).
    static func namingItems<T>(_ name: (Int, String?) -> String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as HushError {
            guard let field = error.field, field.hasPrefix("items["), let close = field.firstIndex(of: "]"),
                  let index = Int(field[field.index(field.startIndex, offsetBy: 6)..<close])
            else { throw error }
            let rest = field[field.index(after: close)...]
            let inner = rest.hasPrefix(".") ? String(rest.dropFirst()) : nil
            throw HushError(error.code, field: name(index, inner), error.message, underlying: error.underlying)
        }
    }
}
