import Foundation
import Hummingbird
import HTTPTypes
import NIOCore

extension DynamicsEmulator {
    /// `POST $batch`: a `multipart/mixed` body of PATCH requests, answered part by part in order
    /// (`odata.continue-on-error`: a refused part does not stop the rest).
    func batch(_ request: Request) async throws -> Response {
        count("batch")
        let type = request.headers[.contentType] ?? ""
        guard let range = type.range(of: "boundary=") else { return error(400, "0x80048d19", "a $batch request is multipart/mixed with a boundary") }
        let boundary = "--" + type[range.upperBound...].trimmingCharacters(in: CharacterSet(charactersIn: "\" ;"))
        let text = String(buffer: try await request.body.collect(upTo: 64 << 20))
        let answerBoundary = "batchresponse_" + UUID().uuidString
        var out = ""
        for chunk in text.components(separatedBy: boundary).dropFirst() where !chunk.hasPrefix("--") {
            let sections = chunk.components(separatedBy: "\r\n\r\n")
            guard sections.count >= 3 else { continue }
            let head = sections[1].components(separatedBy: "\r\n")
            let line = head.first?.split(separator: " ") ?? []
            guard line.count >= 2, line[0] == "PATCH" else { continue }
            let target = String(line[1])
            let path = target.split(separator: "?").first.map(String.init) ?? target
            let select = target.split(separator: "?").dropFirst().first.map { String($0).replacingOccurrences(of: "$select=", with: "") }?
                .split(separator: ",").map(String.init) ?? []
            let resource = path.replacingOccurrences(of: "/api/data/v9.2/", with: "")
            guard let open = resource.firstIndex(of: "("), resource.hasSuffix(")") else { continue }
            let set = String(resource[..<open])
            let id = String(resource[resource.index(after: open)..<resource.index(before: resource.endIndex)])
            let header = { (name: String) in head.first { $0.lowercased().hasPrefix(name + ":") }.map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) } }
            let body = sections.dropFirst(2).joined(separator: "\r\n\r\n").trimmingCharacters(in: .whitespacesAndNewlines)
            let answer = apply(
                set, id, body: body, ifMatch: header("if-match"), representation: header("prefer")?.contains("return=representation") ?? false,
                select: select)
            let reason = [200: "OK", 204: "No Content", 404: "Not Found", 412: "Precondition Failed"][answer.status] ?? "Bad Request"
            out += "--\(answerBoundary)\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            out += "HTTP/1.1 \(answer.status) \(reason)\r\n" + answer.headers.map { "\($0.key): \($0.value)\r\n" }.joined() + "OData-Version: 4.0\r\n\r\n"
            out += answer.body + "\r\n"
        }
        out += "--\(answerBoundary)--\r\n"
        return Response(
            status: .ok, headers: [.contentType: "multipart/mixed; boundary=\(answerBoundary)"], body: .init(byteBuffer: ByteBuffer(string: out)))
    }
}
