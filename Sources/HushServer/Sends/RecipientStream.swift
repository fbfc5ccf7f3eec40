import Foundation
import HushCore

/// Reads a JSON object whose `recipients` array may hold a million entries, as the body arrives:
/// the other fields are kept raw (they are small), and each recipient is handed out as soon as
/// it is complete. Only the unread tail of the body is held, never the whole document.
///
/// A value that is still arriving is read on from where the last chunk stopped, so each byte is
/// looked at once however the body is split; a value longer than its limit is refused as soon as
/// it passes the limit, without waiting for the rest of it.
struct RecipientStream {
    /// One recipient's JSON: room for the longest valid address, contact and ref even written
    /// all in `\u` escapes (about 5 KiB).
    static let maximumRecipientBytes = 8 * 1024
    /// Each other top-level field's JSON (`name`, `campaign`, `channel`, `scope`, `lists`).
    static let maximumFieldBytes = 64 * 1024
    /// A field name's JSON; the longest name, all in `\u` escapes, takes 62.
    static let maximumKeyBytes = 256

    /// A recipient as sent: an address, or `{address, contact?, ref?}`.
    struct Recipient: Sendable {
        let address: String
        let contact: String?
        let ref: String?
    }

    private enum State {
        case start
        case key
        case colon(String)
        case value(String)
        case afterValue
        case recipientsStart
        case element
        case afterElement
        case done
    }

    private var buffer: [UInt8] = []
    private var cursor = 0
    private var state = State.start
    /// How far the value at `cursor` has been read, kept from one chunk to the next.
    private var scan = JSONScanner.ValueScan()
    /// Bytes read while looking for where values end: each at most once, so never more than the body.
    private(set) var scanned = 0
    private var seenKeys: Set<String> = []
    /// The top-level fields other than `recipients`, as raw JSON.
    private(set) var fields: [String: [UInt8]] = [:]
    /// Whether the `recipients` array has started: every field before it is known.
    private(set) var inRecipients = false
    private(set) var count = 0
    let allowedFields: Set<String>

    init(fields: Set<String>) {
        allowedFields = fields
    }

    /// Takes the next bytes; returns the recipients they complete.
    mutating func push(_ bytes: some Sequence<UInt8>) throws -> [Recipient] {
        if cursor > 1 << 20 {
            buffer.removeFirst(cursor)
            cursor = 0
        }
        buffer.append(contentsOf: bytes)
        var recipients: [Recipient] = []
        while try step(into: &recipients) {}
        return recipients
    }

    /// The body ended: it must have been one complete object.
    func finish() throws {
        guard case .done = state else { throw Problem.invalid("body", "the JSON body ended before its closing brace") }
        guard buffer[cursor...].allSatisfy(Self.isSpace) else { throw Problem.invalid("body", "the JSON body has text after its closing brace") }
    }

    /// Advances by one token or value; false when more bytes are needed.
    private mutating func step(into recipients: inout [Recipient]) throws -> Bool {
        skipSpace()
        guard cursor < buffer.count else { return false }
        let byte = buffer[cursor]
        switch state {
        case .start:
            guard byte == UInt8(ascii: "{") else { throw Problem.invalid("body", "the body must be a JSON object") }
            cursor += 1
            state = .key
        case .key:
            if byte == UInt8(ascii: "}") && seenKeys.isEmpty {
                cursor += 1
                state = .done
                return true
            }
            guard byte == UInt8(ascii: "\"") else { throw Problem.invalid("body", "expected a field name in the JSON body") }
            guard let end = try valueEnd(limit: Self.maximumKeyBytes, refusal: { _ in Self.longKey }) else { return false }
            let key = try Self.string(buffer[cursor..<end], field: "body")
            guard allowedFields.contains(key) || key == "recipients" else {
                throw Problem.invalid(key, "unknown field \"\(key)\"")
            }
            guard seenKeys.insert(key).inserted else { throw Problem.invalid(key, "\(key) is given twice") }
            cursor = end
            state = .colon(key)
        case .colon(let key):
            guard byte == UInt8(ascii: ":") else { throw Problem.invalid("body", "expected ':' after \"\(key)\"") }
            cursor += 1
            state = key == "recipients" ? .recipientsStart : .value(key)
        case .value(let key):
            guard let end = try valueEnd(limit: Self.maximumFieldBytes, refusal: { Self.oversized($0, field: key) }) else { return false }
            fields[key] = Array(buffer[cursor..<end])
            cursor = end
            state = .afterValue
        case .afterValue:
            cursor += 1
            switch byte {
            case UInt8(ascii: ","): state = .key
            case UInt8(ascii: "}"): state = .done
            default: throw Problem.invalid("body", "expected ',' or '}' in the JSON body")
            }
        case .recipientsStart:
            guard byte == UInt8(ascii: "[") else { throw Problem.invalid("recipients", "recipients must be an array") }
            cursor += 1
            inRecipients = true
            skipSpace()
            guard cursor < buffer.count else {
                state = .element
                return false
            }
            if buffer[cursor] == UInt8(ascii: "]") {
                cursor += 1
                state = .afterValue
            } else {
                state = .element
            }
        case .element:
            let index = count
            guard let end = try valueEnd(limit: Self.maximumRecipientBytes, refusal: { Self.oversized($0, index: index) }) else { return false }
            guard count < Send.maximumRecipients else {
                throw Problem.invalid("recipients", "at most \(Send.maximumRecipients) recipients per send")
            }
            recipients.append(try Self.recipient(buffer[cursor..<end], index: count))
            count += 1
            cursor = end
            state = .afterElement
        case .afterElement:
            cursor += 1
            switch byte {
            case UInt8(ascii: ","): state = .element
            case UInt8(ascii: "]"): state = .afterValue
            default: throw Problem.invalid("recipients[\(count)]", "expected ',' or ']' after a recipient")
            }
        case .done:
            throw Problem.invalid("body", "the JSON body has text after its closing brace")
        }
        return true
    }

    /// Where the value at `cursor` ends, reading on from where the last call stopped; nil while
    /// more bytes are needed. A value over `limit` bytes is refused, with the first `limit + 1`
    /// of its bytes, as soon as they are here, so the answer is the same however the body is split.
    private mutating func valueEnd(limit: Int, refusal: (ArraySlice<UInt8>) -> Problem) throws -> Int? {
        let window = buffer[cursor..<min(buffer.count, cursor + limit + 1)]
        let before = scan.read
        let length = scan.length(of: window)
        scanned += (length ?? scan.read) - before
        if let length, length <= limit {
            scan = JSONScanner.ValueScan()
            return cursor + length
        }
        guard length != nil || scan.read > limit else { return nil }
        throw refusal(window)
    }

    private mutating func skipSpace() {
        while cursor < buffer.count, Self.isSpace(buffer[cursor]) { cursor += 1 }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    // MARK: Limits

    private static var longKey: Problem {
        Problem.invalid("body", "a field name is longer than \(maximumKeyBytes) bytes; a send has name, campaign, channel, scope, lists and recipients")
    }

    /// The problem with a top-level field over `maximumFieldBytes`, given its first bytes.
    static func oversized(_ start: ArraySlice<UInt8>, field: String) -> Problem {
        if ["name", "campaign"].contains(field), start.first == UInt8(ascii: "\"") {
            return Problem.invalid(field, "\(field) is longer than \(Send.maximumNameLength) characters")
        }
        return Problem.invalid(field, "\(field) is longer than \(maximumFieldBytes / 1024) KiB of JSON")
    }

    /// The problem with a recipient over `maximumRecipientBytes`, given its first bytes past the
    /// limit: named by the member still open there (`recipients[3].ref`), or else the recipient.
    static func oversized(_ start: ArraySlice<UInt8>, index: Int) -> Problem {
        let field = "recipients[\(index)]"
        guard let member = openMember(start) else {
            return Problem.invalid(field, "a recipient is longer than \(maximumRecipientBytes) bytes of JSON")
        }
        // This much of a ref is over its limit even written all in `\u` escapes.
        if member.name == "ref", member.read > 6 * Send.maximumReferenceLength + 12 {
            return Problem.invalid("\(field).ref", "ref is longer than \(Send.maximumReferenceLength) bytes")
        }
        return Problem.invalid("\(field).\(member.name)", "\(member.name) is too long: a recipient is at most \(maximumRecipientBytes) bytes of JSON")
    }

    /// The member of a recipient object (address, contact or ref) whose value `object` ends
    /// inside, and how many of its bytes are there.
    private static func openMember(_ object: ArraySlice<UInt8>) -> (name: String, read: Int)? {
        guard object.first == UInt8(ascii: "{") else { return nil }
        var cursor = object.startIndex + 1
        func skip() { while cursor < object.endIndex, isSpace(object[cursor]) { cursor += 1 } }
        while true {
            skip()
            guard cursor < object.endIndex, object[cursor] == UInt8(ascii: "\""),
                  let keyEnd = JSONScanner.valueEnd(object, from: cursor) else { return nil }
            let key = String(decoding: object[(cursor + 1)..<(keyEnd - 1)], as: UTF8.self)
            cursor = keyEnd
            skip()
            guard cursor < object.endIndex, object[cursor] == UInt8(ascii: ":") else { return nil }
            cursor += 1
            skip()
            guard cursor < object.endIndex else { return nil }
            guard let valueEnd = JSONScanner.valueEnd(object, from: cursor) else {
                return ["address", "contact", "ref"].contains(key) ? (key, object.endIndex - cursor) : nil
            }
            cursor = valueEnd
            skip()
            guard cursor < object.endIndex, object[cursor] == UInt8(ascii: ",") else { return nil }
            cursor += 1
        }
    }

    /// A JSON string's value; the common case (no escapes) without a decoder.
    static func string(_ bytes: ArraySlice<UInt8>, field: String) throws -> String {
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "\""), bytes.last == UInt8(ascii: "\"") else {
            throw Problem.invalid(field, "\(field) must be a string")
        }
        let inner = bytes.dropFirst().dropLast()
        if !inner.contains(UInt8(ascii: "\\")) {
            return String(decoding: inner, as: UTF8.self)
        }
        guard let value = try? JSONDecoder().decode(String.self, from: Data(bytes)) else {
            throw Problem.invalid(field, "\(field) is not a valid JSON string")
        }
        return value
    }

    /// `"address"` or `{"address": …, "contact": …, "ref": …}` (string or null values).
    static func recipient(_ all: ArraySlice<UInt8>, index: Int) throws -> Recipient {
        let field = "recipients[\(index)]"
        if all.first == UInt8(ascii: "\"") {
            let address = try string(all, field: field)
            try JSONBodyCheck.requireNoControlCharacters(address, field: field)
            return Recipient(address: address, contact: nil, ref: nil)
        }
        guard all.first == UInt8(ascii: "{"), all.last == UInt8(ascii: "}") else {
            throw Problem.invalid(field, "a recipient is an address or {address, contact?, ref?}")
        }
        var address: String?
        var contact: String?
        var ref: String?
        // Which of address, contact and ref were given, so one given twice is refused.
        var seen: UInt8 = 0
        var cursor = all.startIndex + 1
        func skip() { while cursor < all.endIndex, isSpace(all[cursor]) { cursor += 1 } }
        skip()
        if all[cursor] != UInt8(ascii: "}") {
            while true {
                skip()
                guard all[cursor] == UInt8(ascii: "\""), let keyEnd = JSONScanner.valueEnd(all, from: cursor) else {
                    throw Problem.invalid(field, "a recipient object has string keys")
                }
                let key = all[(cursor + 1)..<(keyEnd - 1)]
                cursor = keyEnd
                skip()
                guard cursor < all.endIndex, all[cursor] == UInt8(ascii: ":") else { throw Problem.invalid(field, "expected ':' in a recipient") }
                cursor += 1
                skip()
                guard let valueEnd = JSONScanner.valueEnd(all, from: cursor) else { throw Problem.invalid(field, "a recipient is incomplete") }
                let raw = all[cursor..<valueEnd]
                let isNull = raw.elementsEqual("null".utf8)
                let bit: UInt8 = key.elementsEqual("address".utf8) ? 1 : key.elementsEqual("contact".utf8) ? 2 : key.elementsEqual("ref".utf8) ? 4 : 0
                guard seen & bit == 0 else {
                    let name = String(decoding: key, as: UTF8.self)
                    throw Problem.invalid("\(field).\(name)", "\(field).\(name) is given twice")
                }
                seen |= bit
                if key.elementsEqual("address".utf8) {
                    address = isNull ? nil : try string(raw, field: "\(field).address")
                } else if key.elementsEqual("contact".utf8) {
                    contact = isNull ? nil : try string(raw, field: "\(field).contact")
                } else if key.elementsEqual("ref".utf8) {
                    ref = isNull ? nil : try string(raw, field: "\(field).ref")
                } else {
                    let name = try string(all[(key.startIndex - 1)...key.endIndex], field: field)
                    throw Problem.invalid("\(field).\(name)", "unknown field \"\(name)\"; a recipient has address, contact and ref")
                }
                cursor = valueEnd
                skip()
                guard cursor < all.endIndex else { throw Problem.invalid(field, "a recipient object is incomplete") }
                if all[cursor] == UInt8(ascii: ",") {
                    cursor += 1
                    continue
                }
                guard all[cursor] == UInt8(ascii: "}") else { throw Problem.invalid(field, "expected ',' or '}' in a recipient") }
                break
            }
        }
        guard let address else { throw Problem.invalid("\(field).address", "a recipient needs an address") }
        for (name, value) in [("address", address), ("contact", contact), ("ref", ref)] {
            try value.map { try JSONBodyCheck.requireNoControlCharacters($0, field: "\(field).\(name)") }
        }
        return Recipient(address: address, contact: contact, ref: ref)
    }
}
