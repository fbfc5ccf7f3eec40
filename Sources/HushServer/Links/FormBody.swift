import Foundation
import Hummingbird

/// The fields of a form post: `application/x-www-form-urlencoded` (what browsers send) or
/// `multipart/form-data` (what some mail providers send for RFC 8058 one-click).
struct FormBody {
    private(set) var fields: [(name: String, value: String)] = []

    init(_ request: Request, context: HushRequestContext, limit: Int) async throws {
        let buffer = try await request.body.collect(upTo: limit)
        let bytes = Array(buffer.readableBytesView)
        let type = request.headers[.contentType]?.lowercased() ?? ""
        if type.hasPrefix("multipart/form-data") {
            guard let boundary = Self.boundary(in: request.headers[.contentType] ?? "") else {
                throw Problem.invalid("body", "a multipart body needs a boundary")
            }
            fields = Self.multipart(bytes, boundary: boundary)
        } else {
            fields = Self.urlEncoded(String(decoding: bytes, as: UTF8.self))
        }
    }

    func first(_ name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    func all(_ name: String) -> [String] {
        fields.filter { $0.name == name }.map(\.value)
    }

    static func urlEncoded(_ text: String) -> [(name: String, value: String)] {
        text.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    static func boundary(in contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    /// The simple fields of a multipart body (RFC 7578): each part's name and its text.
    static func multipart(_ bytes: [UInt8], boundary: String) -> [(name: String, value: String)] {
        let text = String(decoding: bytes, as: UTF8.self)
        var fields: [(name: String, value: String)] = []
        for part in text.components(separatedBy: "--" + boundary).dropFirst() {
            if part.hasPrefix("--") { break }
            guard let split = part.range(of: "\r\n\r\n") else { continue }
            let headers = part[..<split.lowerBound]
            var value = String(part[split.upperBound...])
            if value.hasSuffix("\r\n") { value.removeLast() }
            guard let disposition = headers.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-disposition:") }),
                  let nameStart = disposition.range(of: "name=\"")
            else { continue }
            let rest = disposition[nameStart.upperBound...]
            guard let nameEnd = rest.firstIndex(of: "\"") else { continue }
            fields.append((String(rest[..<nameEnd]), value))
        }
        return fields
    }
}
