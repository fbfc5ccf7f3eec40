import Foundation
import Hummingbird
import HummingbirdCore
import HushCore

/// A request body. Fields it does not know are refused, naming them, so a typo (`chanel`) is
/// an error rather than a silently ignored value.
protocol APIInput: Decodable, Sendable {
    static var fields: Set<String> { get }
}

struct UnknownFields: Error {
    let names: [String]
}

struct AnyKey: CodingKey {
    let stringValue: String
    let intValue: Int? = nil
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

extension APIInput {
    /// Call first in `init(from:)` of a strict nested type.
    static func rejectUnknownFields(in decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        let unknown = container.allKeys.map(\.stringValue).filter { !fields.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath, debugDescription: "unknown fields", underlyingError: UnknownFields(names: unknown)))
        }
    }
}

/// Decodes `Input` after checking its top-level fields.
struct Strict<Input: APIInput>: Decodable {
    let value: Input

    init(from decoder: any Decoder) throws {
        try Input.rejectUnknownFields(in: decoder)
        value = try Input(from: decoder)
    }
}

extension Request {
    /// The body as `Input`: 413 over the size limit, 400 naming the field otherwise.
    func input<Input: APIInput>(_ type: Input.Type, context: HushRequestContext) async throws -> Input {
        let buffer = try await body.collect(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { throw Problem.invalid("body", "the request needs a JSON body") }
        try buffer.withUnsafeReadableBytes { try JSONBodyCheck.check($0) }
        return try JSONCoding.decoder.decode(Strict<Input>.self, from: buffer).value
    }
}

/// Runs `body`; its error is reported as being about `field`.
func naming<T>(_ field: String, _ body: () throws(HushError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw Problem.invalid(field, error.message)
    }
}

/// Query parameters, parsed with errors that name them.
struct Query {
    private let parameters: Parameters

    init(_ request: Request) {
        self.init(request.uri)
    }

    init(_ uri: HummingbirdCore.URI) {
        parameters = uri.queryParameters
    }

    /// The request's query parameters, refused (400, naming it) when one is not among `names`
    /// or is given twice: a parameter misspelled, written in another style (`lists[]`) or
    /// repeated would otherwise be left out of the answer without a word, and a check would
    /// leave out a list someone opted out of. The API's routes read their queries this way.
    init(_ request: Request, accepting names: [String]) throws {
        self.init(request.uri)
        guard let (name, repeated) = stray(among: names) else { return }
        if repeated {
            let hint = name == "lists" ? "; name several lists in one, separated by commas" : ""
            throw Problem.invalid(String(name), "the query parameter \(name) is given more than once\(hint)")
        }
        throw Problem.invalid(String(name), "\(name) is not a query parameter of this operation, which takes \(names.joined(separator: ", "))")
    }

    /// Whether every parameter given is named by `names`, and none twice.
    func namesOnly(_ names: [String]) -> Bool {
        stray(among: names) == nil
    }

    /// The first parameter not among `names`, or given a second time.
    private func stray(among names: [String]) -> (name: Substring, repeated: Bool)? {
        var seen: UInt64 = 0
        for (name, _) in parameters {
            guard let position = names.firstIndex(where: { $0 == name }) else { return (name, false) }
            guard seen & 1 << position == 0 else { return (name, true) }
            seen |= 1 << position
        }
        return nil
    }

    func optional(_ name: String) -> String? {
        guard let value = parameters[Substring(name)], !value.isEmpty else { return nil }
        return String(value)
    }

    func required(_ name: String) throws -> String {
        guard let value = optional(name) else { throw Problem.invalid(name, "the query parameter \(name) is required") }
        return value
    }

    func integer(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = optional(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw Problem.invalid(name, "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}

/// The API's JSON: snake_case keys written by the types themselves, dates as ISO 8601 with
/// milliseconds in UTC.
enum JSONCoding {
    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Timestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    in: try decoder.singleValueContainer(), debugDescription: "not an ISO 8601 date-time: \"\(text)\"")
            }
            return date
        }
        return decoder
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        return encoder
    }
}

/// A JSON response with the API's encoding.
struct JSONBody<Value: Encodable & Sendable>: ResponseGenerator {
    let status: HTTPResponse.Status
    let value: Value

    init(_ value: Value, status: HTTPResponse.Status = .ok) {
        self.status = status
        self.value = value
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONCoding.encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
