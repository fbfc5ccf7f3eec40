import Foundation
import Hummingbird
import HushCore
import NIOCore

/// The console's way to do anything: a `/v1` request answered in process by the same routes
/// the API serves, as the signed-in user. What the console can do, the API can; every rule
/// (roles, evidence, limits) is the API's, and its errors name the fields the forms show them
/// beside.
struct ConsoleAPI: Sendable {
    let responder: RouterResponder<HushRequestContext>

    /// An answer: its status, its JSON, and for a problem the message of each field it names.
    struct Answer: Sendable {
        let status: Int
        let json: JSONValue
        var ok: Bool { (200..<300).contains(status) }
        /// `errors[].field` → message, and `""` → the problem's detail.
        var problems: [String: String] {
            guard !ok else { return [:] }
            var problems = ["": json["detail"]?.string ?? "the request failed (\(status))"]
            for error in json["errors"]?.array ?? [] {
                if let field = error["field"]?.string { problems[field] = error["message"]?.string ?? "" }
            }
            return problems
        }
        var detail: String? { ok ? nil : problems[""] }
    }

    /// Calls `METHOD /v1/<path>` with a JSON body, as `principal`.
    func call(_ method: HTTPRequest.Method, _ path: String, json body: Any? = nil, as principal: Principal, context: HushRequestContext) async throws -> Answer {
        var head = HTTPRequest(method: method, scheme: nil, authority: nil, path: "/v1/" + path)
        var buffer = ByteBuffer()
        if let body {
            head.headerFields[.contentType] = "application/json"
            buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body))
        }
        var context = context
        context.principal = principal
        // The route the inner call matches is its own: the console page's stays in metrics and logs.
        context.coreContext.endpointPath = EndpointPath()
        let response = try await responder.respond(to: Request(head: head, body: RequestBody(buffer: buffer)), context: context)
        let writer = CollectingWriter()
        try await response.body.write(writer)
        let collected = writer.buffer
        let json = collected.readableBytes == 0 ? JSONValue.null : (try? JSONDecoder().decode(JSONValue.self, from: Data(collected.readableBytesView))) ?? .null
        return Answer(status: Int(response.status.code), json: json)
    }

    /// The answer as it is (a CSV download), or the problem's page when it failed.
    func raw(_ method: HTTPRequest.Method, _ path: String, as principal: Principal, context: HushRequestContext) async throws -> Response {
        var context = context
        context.principal = principal
        // The route the inner call matches is its own: the console page's stays in metrics and logs.
        context.coreContext.endpointPath = EndpointPath()
        let response = try await responder.respond(
            to: Request(head: HTTPRequest(method: method, scheme: nil, authority: nil, path: "/v1/" + path), body: RequestBody(buffer: ByteBuffer())),
            context: context)
        guard (200..<300).contains(Int(response.status.code)) else {
            let writer = CollectingWriter()
            try await response.body.write(writer)
            let json = (try? JSONDecoder().decode(JSONValue.self, from: Data(writer.buffer.readableBytesView))) ?? .null
            throw ConsoleFailure(status: Int(response.status.code), message: Answer(status: Int(response.status.code), json: json).detail ?? "")
        }
        return response
    }

    /// GETs and throws the problem when the answer is not a success.
    func get(_ path: String, as principal: Principal, context: HushRequestContext) async throws -> JSONValue {
        let answer = try await call(.get, path, as: principal, context: context)
        guard answer.ok else { throw ConsoleFailure(status: answer.status, message: answer.detail ?? "") }
        return answer.json
    }
}

/// A page that could not be drawn because the API refused what it needed.
struct ConsoleFailure: Error {
    let status: Int
    let message: String
}

/// Collects a response body in memory (within one task).
final class CollectingWriter: ResponseBodyWriter {
    var buffer = ByteBuffer()

    func write(_ part: ByteBuffer) async throws {
        var part = part
        buffer.writeBuffer(&part)
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// Reading the API's JSON in the console. Booleans stay booleans (no Foundation number
/// bridging), so a template's `{{#flag}}` means what it says.
extension JSONValue {
    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { object[key] } else { nil }
    }

    var string: String? { stringValue }
    var int: Int64? { if case .number(let value) = self { Int64(exactly: value) } else { nil } }
    var double: Double? { if case .number(let value) = self { value } else { nil } }
    var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }

    /// The value as a template reads it.
    var template: Any {
        switch self {
        case .null: Optional<String>.none as Any  // dropped by `ConsoleView.cleaned`
        case .bool(let value): value
        case .number(let value): Int(exactly: value).map { $0 as Any } ?? value
        case .string(let value): value
        case .array(let values): values.map(\.template)
        case .object(let object): object.mapValues(\.template)
        }
    }
}
