import Foundation
import Hummingbird
import HushCore

/// The answer to a send: its settings and counts, then every recipient under `allowed`,
/// `blocked` or `invalid`, written from the report's chunks as they are, a chunk at a time.
enum SendResponse {
    static func response(send: Send, id: Int64?, batches: [SendReportBatch], status: HTTPResponse.Status) -> Response {
        var head = JSONWriter(capacity: 512)
        head.raw("{")
        send.writeFields(id: id, to: &head)
        let headBytes = head.bytes
        let chunks = batches.flatMap(\.chunks)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody { writer in
            try await writer.write(ByteBuffer(bytes: headBytes))
            for status in SendReportChunk.Status.allCases {
                try await writer.write(ByteBuffer(string: ",\"\(status.rawValue)\":["))
                var first = true
                for chunk in chunks where chunk.status == status {
                    if !first { try await writer.write(ByteBuffer(string: ",")) }
                    try await writer.write(ByteBuffer(bytes: chunk.entries))
                    first = false
                }
                try await writer.write(ByteBuffer(string: "]"))
            }
            try await writer.write(ByteBuffer(string: "}"))
            try await writer.finish(nil)
        })
    }
}

/// A send's report as CSV rows; `error` holds "Optout Email" / "Optout Number" for recipients
/// held back by an opt-out (the wording people know from the seed), the reason an address was
/// refused for invalid ones. The list, scope, channel and since are the first blocking
/// suppression's.
enum SendReportCSV {
    static let columns = ["position", "address", "contact", "ref", "status", "error", "list", "scope", "channel", "since", "blocked_by"]

    struct Entry: Decodable {
        struct Block: Decodable {
            let list: Int64
            let scope: String
            let channel: String
            let since: String
        }

        let position: Int
        let address: String?
        let input: String?
        let contact: String?
        let ref: String?
        let reason: String?
        let error: String?
        let blockedBy: [Block]?

        enum CodingKeys: String, CodingKey {
            case position, address, input, contact, ref, reason, error
            case blockedBy = "blocked_by"
        }
    }

    static func row(_ status: SendReportChunk.Status, _ json: ArraySlice<UInt8>) throws -> [String] {
        let entry = try JSONDecoder().decode(Entry.self, from: Data(json))
        let block = entry.blockedBy?.first
        let error = switch status {
        case .allowed: ""
        case .blocked: entry.reason == "optout_email" ? "Optout Email" : "Optout Number"
        case .invalid: entry.error ?? ""
        }
        return [
            String(entry.position), entry.address ?? entry.input ?? "", entry.contact ?? "", entry.ref ?? "", status.rawValue, error,
            block.map { String($0.list) } ?? "", block?.scope ?? "", block?.channel ?? "", block?.since ?? "",
            String(entry.blockedBy?.count ?? 0),
        ]
    }
}
