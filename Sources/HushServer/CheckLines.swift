import HushCore
import NIOCore

/// A batch check's decisions: one for each readable input, in input order, and where each
/// unreadable one stood with why.
struct CheckedMany {
    struct Invalid {
        let position: Int
        let error: String
    }

    let decisions: [Decision]
    let invalid: [Invalid]
}

/// The compact form of `POST /v1/check` (`text/plain`): an address a line in, a verdict a line
/// out. JSON spent three quarters of a 10 000-address batch reading the array and writing each
/// blocking suppression; this form reads lines and writes a word each.
enum CheckLines {
    static let contentType = "text/plain; charset=utf-8"

    /// Whether a request's `Content-Type` is `text/plain` (whatever its parameters).
    static func isLines(_ contentType: String) -> Bool {
        contentType.split(separator: ";", maxSplits: 1).first?.trimmingCharacters(in: .whitespaces).lowercased() == "text/plain"
    }

    /// The body's lines (ended by LF or CRLF; a last line needs no ending), each as given.
    static func read(_ body: ByteBuffer, limit: Int) throws -> [String] {
        var lines: [String] = []
        var failure: Problem?
        body.withUnsafeReadableBytes { bytes in
            var start = 0
            while start < bytes.count {
                var end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
                let next = end + 1
                if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                guard lines.count < limit else {
                    failure = Problem.invalid("body", "at most \(limit) addresses per request")
                    return
                }
                guard let line = String(validating: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self) else {
                    failure = Problem.invalid("body", "line \(lines.count + 1) is not UTF-8")
                    return
                }
                lines.append(line)
                start = next
            }
        }
        if let failure { throw failure }
        guard !lines.isEmpty else { throw Problem.invalid("body", "the request needs an address a line") }
        return lines
    }

    /// `text` with every control character and line separator as a space: an error quotes the
    /// input, which may hold a CR or U+2028, and a client splitting lines on those would lose
    /// its place.
    static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}" ? " " : scalar
        }))
    }

    /// A line for each of `count` inputs, in order.
    static func answer(_ checked: CheckedMany, count: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(count * 8)
        var decisions = checked.decisions.makeIterator()
        var invalid = checked.invalid.makeIterator()
        var nextInvalid = invalid.next()
        for position in 0..<count {
            if let bad = nextInvalid, bad.position == position {
                buffer.writeString("invalid\t")
                buffer.writeString(oneLine(bad.error))
                buffer.writeString("\n")
                nextInvalid = invalid.next()
            } else if let decision = decisions.next() {
                buffer.writeString(decision.allowed ? "allowed\n" : "blocked\n")
            }
        }
        return buffer
    }
}
