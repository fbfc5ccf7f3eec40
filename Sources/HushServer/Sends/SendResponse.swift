import Foundation
import Hummingbird
import HushCore

/// The answer to a send: its settings and counts, then every recipient under `allowed`,
/// `blocked` or `invalid`, written from the report's chunks as they are, a chunk at a time.
enum SendResponse {
    static func response(send: Send, id: SendID?, batches: [SendReportBatch], status: HTTPResponse.Status) -> Response {
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
            MemoryTrim.soon()
        })
    }
}

/// A send's report as CSV rows; `error` holds "Optout Email" / "Optout Number" for recipients
/// held back by an opt-out (the wording people know from the seed), the reason an address was
/// refused for invalid ones. The list (its id and name), scope, channel and since are the first
/// blocking suppression's.
enum SendReportCSV {
    static let columns = ["position", "address", "contact", "ref", "status", "error", "list", "list_name", "scope", "channel", "since", "blocked_by"]

    /// A stored entry as a CSV row. Entries are written by `SendRoutes` in a known shape, so
    /// they are read member by member rather than through a decoder (ten times faster).
    static func row(_ status: SendReportChunk.Status, _ json: ArraySlice<UInt8>) throws -> [String] {
        guard let members = JSONScanner.members(of: json) else {
            throw HushError(.storage, "a stored report entry is not a JSON object")
        }
        var fields: [String: ArraySlice<UInt8>] = [:]
        for member in members { fields[String(decoding: member.key, as: UTF8.self)] = member.value }
        func text(_ raw: ArraySlice<UInt8>?) throws -> String {
            guard let raw, !raw.elementsEqual("null".utf8) else { return "" }
            if raw.first == UInt8(ascii: "\"") { return try RecipientStream.string(raw, field: "entry") }
            return String(decoding: raw, as: UTF8.self)
        }
        var blocks: [ArraySlice<UInt8>] = []
        if let raw = fields["blocked_by"] {
            guard let elements = JSONScanner.elements(of: raw) else { throw HushError(.storage, "a stored blocked_by is not an array") }
            blocks = elements
        }
        var block: [String: ArraySlice<UInt8>] = [:]
        if let first = blocks.first {
            for member in JSONScanner.members(of: first) ?? [] { block[String(decoding: member.key, as: UTF8.self)] = member.value }
        }
        let error = switch status {
        case .allowed: ""
        case .blocked: try text(fields["reason"]) == "optout_email" ? "Optout Email" : "Optout Number"
        case .invalid: try text(fields["error"])
        }
        return [
            try text(fields["position"]), try text(fields["address"] ?? fields["input"]), try text(fields["contact"]),
            try text(fields["ref"]), status.rawValue, error, try text(block["list"]), try text(block["list_name"]), try text(block["scope"]),
            try text(block["channel"]), try text(block["since"]), String(blocks.count),
        ]
    }
}
