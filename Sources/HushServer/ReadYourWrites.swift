import Foundation
import HTTPTypes
import Hummingbird
import HushCore
import HushStore

/// Read-your-writes across processes and nodes. Every write to the ledger answers with the
/// position its node's index has applied (`sequence` in the body, `Hush-Sequence` header). A
/// check sent to any node may pass it back as `min_sequence` (query) or `Hush-Min-Sequence`
/// (header): the node answers only once its index has applied that position, waiting up to
/// `ServerConfiguration.minimumSequenceWait` (2 s), else 503 with `Retry-After: 1`.
struct ReadYourWrites: Sendable {
    static let header = HTTPField.Name("Hush-Sequence")!
    static let minimumHeader = HTTPField.Name("Hush-Min-Sequence")!

    let store: any SuppressionChecks
    let wait: Duration

    /// Waits until the index has applied what the request asks for, if it asks. `query` is the
    /// request's query when the route read it already; a route that reads none takes
    /// `min_sequence` alone.
    func await(_ request: Request, query: Query? = nil) async throws {
        guard let sequence = try Self.minimumSequence(of: request, query: query ?? Query(request, accepting: ["min_sequence"])) else { return }
        guard try await store.waitUntilApplied(sequence, within: wait) else {
            var problem = Problem(
                .serviceUnavailable, type: "not_caught_up",
                detail: "this node has not yet applied ledger position \(sequence); ask again, or ask another node",
                errors: [.init(field: "min_sequence", message: "not applied within \(wait)")])
            problem.retryAfter = 1
            throw problem
        }
    }

    /// `min_sequence` or `Hush-Min-Sequence` (the query wins); a bad value is a 400 naming it.
    static func minimumSequence(of request: Request, query: Query) throws -> Int64? {
        let (field, text): (String, String?) = if let query = query.optional("min_sequence") {
            ("min_sequence", query)
        } else {
            ("Hush-Min-Sequence", request.headers[minimumHeader])
        }
        guard let text else { return nil }
        guard let sequence = Int64(text), sequence >= 0 else {
            throw Problem.invalid(field, "\(field) is a ledger position (a whole number, 0 or more) from a write's Hush-Sequence")
        }
        return sequence
    }

    /// A write's answer, its `sequence` (the position its node's index had applied once the write
    /// returned) also in the `Hush-Sequence` header.
    func answer(_ body: some ResponseGenerator, sequence: Int64, to request: Request, context: HushRequestContext) async throws -> Response {
        var response = try body.response(from: request, context: context)
        response.headers[Self.header] = String(sequence)
        return response
    }
}
