import Foundation
import Hummingbird
import HummingbirdTesting
import HushCore
import HushTestSupport
import Testing
@testable import HushServer

/// The served OpenAPI document against the server: every operation documented, and every
/// operation documenting the client errors it can answer as problems.
@Suite(.everyBackend) struct OpenAPITests {
    static func servedDocument(_ server: TestServer) async throws -> OpenAPIOutline {
        let text = try await server.application.test(.router) { client in
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                #expect(response.status == .ok)
                return String(buffer: response.body)
            }
        }
        return OpenAPIOutline(text)
    }

    @Test func everyOperationIsDocumentedAndEveryDocumentedOperationIsServed() async throws {
        let server = try await TestServer()
        let served = Set(HushServer.build(store: server.store).operations)
        let documented = Set(try await Self.servedDocument(server).operations.map(\.name))
        #expect(served.count >= 50)
        #expect(served.subtracting(documented).isEmpty, "undocumented: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
    }

    @Test func everyOperationDocumentsTheClientErrorsItCanAnswer() async throws {
        let server = try await TestServer()
        let document = try await Self.servedDocument(server)
        let operations = document.operations.filter { $0.path.hasPrefix("/v1/") }
        #expect(operations.count >= 50)
        for operation in operations {
            var expected: Set<String> = ["401", "403"]
            if operation.takesBody || operation.takesQuery { expected.insert("400") }
            if operation.takesBody { expected.insert("413") }
            let missing = expected.subtracting(operation.responses.keys)
            #expect(missing.isEmpty, "\(operation.name) does not document \(missing.sorted())")
            for (status, reference) in operation.responses where status.hasPrefix("4") {
                #expect(document.problemResponses.contains(reference), "\(operation.name) \(status) is not a problem response")
            }
        }
        #expect(document.problemResponses.isSuperset(of: ["BadRequest", "Unauthorized", "Forbidden", "NotFound", "ContentTooLarge"]))
    }

    /// What the document says of 401 and 403 holds for each operation: a request without a key
    /// is 401, and one with a key of a role the operation is not for is 403, before anything else.
    @Test func everyOperationRefusesMissingKeysAndOtherRoles() async throws {
        let server = try await TestServer()
        let operations = try await Self.servedDocument(server).operations.filter { $0.path.hasPrefix("/v1/") }
        let inboundOnly: Set<String> = ["POST /v1/inbound", "POST /v1/activities"]
        try await server.test { client in
            for operation in operations {
                let uri = operation.path.replacingOccurrences(of: "{id}", with: "1")
                    .replacingOccurrences(of: "{address}", with: "ann@example.com")
                let method = try #require(HTTPRequest.Method(operation.method))
                let anonymous = try await client.send(method, uri, key: nil)
                #expect(anonymous.status == .unauthorized && anonymous.contentType == "application/problem+json", "\(operation.name) without a key")
                let other = inboundOnly.contains(operation.name) ? server.member : server.inbound
                let refused = try await client.send(method, uri, key: other)
                #expect(refused.status == .forbidden && refused.contentType == "application/problem+json", "\(operation.name) with another role's key")
            }
        }
    }
}

/// The operations of the OpenAPI document and its problem responses, read by indentation: the
/// document keeps one layout (paths at two spaces, methods at four, their fields at six,
/// statuses at eight; components at two, their entries at four).
struct OpenAPIOutline {
    struct Operation {
        let method: String
        let path: String
        var takesBody = false
        var takesQuery = false
        /// Status → the `components/responses` entry it refers to (empty when written inline).
        var responses: [String: String] = [:]

        var name: String { "\(method) \(path)" }
    }

    private(set) var operations: [Operation] = []
    /// `components/responses` entries whose content is an `application/problem+json` Problem.
    private(set) var problemResponses: Set<String> = []

    init(_ text: String) {
        enum Section { case parameters, responses, other }
        var path: String?
        var inComponentResponses = false
        var section = Section.other
        /// The `components/responses` entry being read: its name and the lines that make it a problem.
        var entry: (name: String, problemType: Bool, problemSchema: Bool)?
        func finishEntry() {
            if let done = entry, done.problemType && done.problemSchema { problemResponses.insert(done.name) }
            entry = nil
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let indent = line.prefix { $0 == " " }.count
            let content = line.trimmingCharacters(in: .whitespaces)
            guard !content.isEmpty else { continue }
            if indent <= 2 {
                finishEntry()
                path = indent == 2 && content.hasPrefix("/") ? String(content.dropLast()) : nil
                inComponentResponses = indent == 2 && content == "responses:"
            } else if inComponentResponses {
                if indent == 4 {
                    finishEntry()
                    entry = (String(content.dropLast()), false, false)
                }
                if content == "application/problem+json:" { entry?.problemType = true }
                if content.contains(##"$ref: "#/components/schemas/Problem""##) { entry?.problemSchema = true }
            } else if let path, indent == 4 {
                let method = content.dropLast()
                if ["get", "post", "put", "patch", "delete"].contains(method) {
                    operations.append(Operation(method: method.uppercased(), path: path))
                }
                section = .other
            } else if path != nil, let last = operations.indices.last, operations[last].path == path {
                if indent == 6 {
                    if content == "requestBody:" { operations[last].takesBody = true }
                    section = content == "parameters:" ? .parameters : content == "responses:" ? .responses : .other
                } else if section == .parameters, content.contains("in: query") {
                    operations[last].takesQuery = true
                } else if section == .responses, indent == 8, let status = content.split(separator: "\"").first, status.count == 3 {
                    let reference = content.range(of: "#/components/responses/").map { found in
                        String(content[found.upperBound...].prefix { $0 != "\"" })
                    }
                    operations[last].responses[String(status)] = reference ?? ""
                }
            }
        }
        finishEntry()
    }
}
