import Foundation

/// What JSONDecoder lets through and the API refuses, found in one pass over a body before it
/// is decoded: a key given twice in one object (the decoder keeps the last, silently), and a
/// control character escaped into a string (`\u0000` once cut `c1\u0000zzz` to `c1`). Tab and
/// line feed are allowed in free text (descriptions, messages, bodies). Both answer 400 naming
/// the field.
enum JSONBodyCheck {
    /// Fields whose text may hold tabs and line breaks.
    static let freeText: Set<String> = ["description", "message", "help_text", "body", "text", "confirmation_text"]

    private enum Level {
        case object(seen: Set<[UInt8]>, key: [UInt8]?)
        case array(index: Int)
    }

    static func check(_ bytes: UnsafeRawBufferPointer) throws {
        var stack: [Level] = []
        var index = 0
        var expectingKey = false
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"):
                stack.append(.object(seen: [], key: nil))
                expectingKey = true
            case UInt8(ascii: "["):
                stack.append(.array(index: 0))
                expectingKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = stack.popLast()
                expectingKey = false
            case UInt8(ascii: ","):
                if case .array(let position)? = stack.last {
                    stack[stack.count - 1] = .array(index: position + 1)
                } else {
                    expectingKey = true
                }
            case UInt8(ascii: "\""):
                let (end, raw, control) = scanString(bytes, from: index)
                if expectingKey, case .object(var seen, _)? = stack.last {
                    // `"ch\u0061nnel"` is the key `channel` to the decoder, and so here.
                    let text = raw.contains(UInt8(ascii: "\\")) ? unescaped(raw) : raw
                    let first = seen.insert(text).inserted
                    stack[stack.count - 1] = .object(seen: seen, key: text)
                    guard first else {
                        let field = path(stack)
                        throw Problem.invalid(field, "\(field) is given twice")
                    }
                    expectingKey = false
                } else if let control {
                    let name: String? = if case .object(_, let key?)? = stack.last { String(decoding: key, as: UTF8.self) } else { nil }
                    let allowed = (control == 0x09 || control == 0x0A) && name.map(freeText.contains) == true
                    if !allowed {
                        let field = path(stack)
                        throw Problem.invalid(field.isEmpty ? "body" : field, "\(field.isEmpty ? "the body" : field) holds a control character (U+\(String(format: "%04X", control))), which is not allowed here")
                    }
                }
                index = end
            default:
                break
            }
            index += 1
        }
    }

    /// For values read outside `check` (the streamed parts of a send): refuses any character
    /// below U+0020.
    static func requireNoControlCharacters(_ text: String, field: String) throws {
        if let control = text.unicodeScalars.first(where: { $0.value < 0x20 }) {
            throw Problem.invalid(field, "\(field) holds a control character (U+\(String(format: "%04X", control.value))), which is not allowed here")
        }
    }

    /// The index of the closing quote, the raw text between the quotes, and the first escaped
    /// control character in it.
    private static func scanString(_ bytes: UnsafeRawBufferPointer, from start: Int) -> (end: Int, text: [UInt8], control: UInt8?) {
        var index = start + 1
        var control: UInt8?
        while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
            if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count {
                let escaped = bytes[index + 1]
                switch escaped {
                case UInt8(ascii: "b"): control = control ?? 0x08
                case UInt8(ascii: "f"): control = control ?? 0x0C
                case UInt8(ascii: "n"): control = control ?? 0x0A
                case UInt8(ascii: "r"): control = control ?? 0x0D
                case UInt8(ascii: "t"): control = control ?? 0x09
                case UInt8(ascii: "u") where index + 5 < bytes.count:
                    let hex = String(decoding: bytes[(index + 2)...(index + 5)], as: UTF8.self)
                    if let value = UInt16(hex, radix: 16), value < 0x20 { control = control ?? UInt8(value) }
                    index += 4
                default: break
                }
                index += 2
            } else {
                index += 1
            }
        }
        return (index, Array(bytes[min(start + 1, index)..<index]), control)
    }

    /// A key's text with its escapes read as the decoder reads them; as given when it does not
    /// read (the decoder then refuses the body).
    private static func unescaped(_ raw: [UInt8]) -> [UInt8] {
        let quoted = Data([UInt8(ascii: "\"")] + raw + [UInt8(ascii: "\"")])
        guard let text = try? JSONDecoder().decode(String.self, from: quoted) else { return raw }
        return Array(text.utf8)
    }

    /// `entries[1].address`: where the scanner stands.
    private static func path(_ stack: [Level]) -> String {
        var path = ""
        for level in stack {
            switch level {
            case .object(_, let key?):
                path += (path.isEmpty ? "" : ".") + String(decoding: key, as: UTF8.self)
            case .object(_, nil):
                break
            case .array(let index):
                path += "[\(index)]"
            }
        }
        return path
    }
}
