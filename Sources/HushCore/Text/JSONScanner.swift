/// Finds where JSON values end without decoding them.
public enum JSONScanner {
    /// JSON's whitespace: space, line feed, carriage return, tab.
    public static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    /// Where the JSON value starting at `start` ends (one past it), or nil when `bytes` holds
    /// only part of it. A top-level number or literal ends at the first delimiter.
    public static func valueEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        valueEnd(bytes[...], from: start)
    }

    /// The same within a slice; indices are the slice's own.
    public static func valueEnd(_ bytes: ArraySlice<UInt8>, from start: Int) -> Int? {
        guard start < bytes.endIndex else { return nil }
        var scan = ValueScan()
        return scan.length(of: bytes[start...]).map { start + $0 }
    }

    /// A search for one value's end that stops where the bytes run out and resumes there when
    /// more arrive: each byte is read once, however the value is split.
    public struct ValueScan: Sendable {
        /// How many of the value's bytes have been read.
        public private(set) var read = 0
        private var depth = 0
        private var inString = false
        private var escaped = false

        public init() {}

        /// The value's length once `value` (its bytes from the first, as far as they have
        /// arrived; the same start each call) holds all of it; nil while more are needed.
        public mutating func length(of value: ArraySlice<UInt8>) -> Int? {
            while read < value.count {
                let byte = value[value.startIndex + read]
                if escaped {
                    escaped = false
                } else if inString {
                    if byte == UInt8(ascii: "\\") {
                        escaped = true
                    } else if byte == UInt8(ascii: "\"") {
                        inString = false
                        if depth == 0 { return read + 1 }
                    }
                } else {
                    switch byte {
                    case UInt8(ascii: "\""): inString = true
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        if depth == 0 { return read }
                        depth -= 1
                        if depth == 0 { return read + 1 }
                    case UInt8(ascii: ","), 0x20, 0x0A, 0x0D, 0x09:
                        if depth == 0 { return read }
                    default: break
                    }
                }
                read += 1
            }
            return nil
        }
    }

    /// The members of a JSON object, as raw keys (without quotes) and raw values, in order;
    /// nil when `object` is not a well-formed object.
    public static func members(of object: ArraySlice<UInt8>) -> [(key: ArraySlice<UInt8>, value: ArraySlice<UInt8>)]? {
        guard object.first == UInt8(ascii: "{"), object.last == UInt8(ascii: "}") else { return nil }
        var members: [(key: ArraySlice<UInt8>, value: ArraySlice<UInt8>)] = []
        var cursor = object.startIndex + 1
        let end = object.endIndex - 1
        func skipSpace() {
            while cursor < end, isSpace(object[cursor]) { cursor += 1 }
        }
        while true {
            skipSpace()
            if cursor >= end { return members }
            guard object[cursor] == UInt8(ascii: "\""), let keyEnd = valueEnd(object, from: cursor), keyEnd <= end else { return nil }
            let key = object[(cursor + 1)..<(keyEnd - 1)]
            cursor = keyEnd
            skipSpace()
            guard cursor < end, object[cursor] == UInt8(ascii: ":") else { return nil }
            cursor += 1
            skipSpace()
            guard let valueEnd = valueEnd(object, from: cursor), valueEnd <= end else { return nil }
            members.append((key, object[cursor..<valueEnd]))
            cursor = valueEnd
            skipSpace()
            if cursor < end {
                guard object[cursor] == UInt8(ascii: ",") else { return nil }
                cursor += 1
            }
        }
    }

    /// The elements of a JSON array, raw.
    public static func elements(of array: ArraySlice<UInt8>) -> [ArraySlice<UInt8>]? {
        guard array.first == UInt8(ascii: "["), array.last == UInt8(ascii: "]") else { return nil }
        var elements: [ArraySlice<UInt8>] = []
        var cursor = array.startIndex + 1
        let end = array.endIndex - 1
        while cursor < end {
            while cursor < end, isSpace(array[cursor]) || array[cursor] == UInt8(ascii: ",") { cursor += 1 }
            guard cursor < end else { break }
            guard let valueEnd = valueEnd(array, from: cursor), valueEnd <= end else { return nil }
            elements.append(array[cursor..<valueEnd])
            cursor = valueEnd
        }
        return elements
    }
}
