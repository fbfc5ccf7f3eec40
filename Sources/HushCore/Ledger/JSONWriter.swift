import Foundation

/// Writes JSON straight into bytes, for the hot paths (check responses, evidence rows):
/// `JSONEncoder` spent most of their time in generic containers. Callers write keys in sorted
/// order, like the API's encoder, so both kinds of output read the same.
public struct JSONWriter: Sendable {
    public var bytes: [UInt8] = []

    @inlinable
    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    @inlinable
    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// A string with JSON escaping: quotes, backslashes and control characters.
    @inlinable
    public mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            var start = 0
            for (offset, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<offset]))
                escape(byte)
                start = offset + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    @inlinable
    mutating func escape(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): raw("\\\"")
        case UInt8(ascii: "\\"): raw("\\\\")
        case 0x0A: raw("\\n")
        case 0x0D: raw("\\r")
        case 0x09: raw("\\t")
        default:
            let hex = Array("0123456789abcdef".utf8)
            raw("\\u00")
            bytes.append(hex[Int(byte >> 4)])
            bytes.append(hex[Int(byte & 0x0F)])
        }
    }

    @inlinable
    public mutating func optionalString(_ text: String?) {
        if let text { string(text) } else { raw("null") }
    }

    @inlinable
    public mutating func integer(_ value: Int64) {
        bytes.append(contentsOf: String(value).utf8)
    }

    /// A database identity, as its number.
    public mutating func integer<Tag>(_ id: Identifier<Tag>) {
        integer(id.rawValue)
    }

    @inlinable
    public mutating func bool(_ value: Bool) {
        value ? raw("true") : raw("false")
    }

    @inlinable
    public mutating func date(_ date: Date) {
        bytes.append(UInt8(ascii: "\""))
        Timestamp.append(date, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// `[a, b, …]`, each element written by `element`.
    @inlinable
    public mutating func array<Element>(_ elements: some Sequence<Element>, _ element: (inout JSONWriter, Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        var first = true
        for value in elements {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            element(&self, value)
        }
        bytes.append(UInt8(ascii: "]"))
    }
    /// A number as JSON writes it: integral values without a fraction.
    @inlinable
    public mutating func number(_ value: Double) {
        if value.rounded() == value, abs(value) < 9.0e15 {
            integer(Int64(value))
        } else {
            bytes.append(contentsOf: "\(value)".utf8)
        }
    }
}

extension JSONValue {
    /// Writes the value, object keys sorted.
    public func write(to json: inout JSONWriter) {
        switch self {
        case .string(let value): json.string(value)
        case .number(let value): json.number(value)
        case .bool(let value): json.bool(value)
        case .null: json.raw("null")
        case .array(let values): json.array(values) { json, value in value.write(to: &json) }
        case .object(let fields): JSONValue.write(fields, to: &json)
        }
    }

    /// Writes an object, keys sorted.
    public static func write(_ fields: [String: JSONValue], to json: inout JSONWriter) {
        json.raw("{")
        for (offset, key) in fields.keys.sorted().enumerated() {
            if offset > 0 { json.raw(",") }
            json.string(key)
            json.raw(":")
            fields[key]!.write(to: &json)
        }
        json.raw("}")
    }
}
