/// Finds where JSON values end without decoding them.
public enum JSONScanner {
    /// Where the JSON value starting at `start` ends (one past it), or nil when `bytes` holds
    /// only part of it. A top-level number or literal ends at the first delimiter.
    public static func valueEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        valueEnd(bytes[...], from: start)
    }

    /// The same within a slice; indices are the slice's own.
    public static func valueEnd(_ bytes: ArraySlice<UInt8>, from start: Int) -> Int? {
        var index = start
        var depth = 0
        var inString = false
        while index < bytes.endIndex {
            let byte = bytes[index]
            if inString {
                if byte == UInt8(ascii: "\\") {
                    index += 2
                    continue
                }
                if byte == UInt8(ascii: "\"") {
                    inString = false
                    if depth == 0 { return index + 1 }
                }
            } else {
                switch byte {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return index }
                    depth -= 1
                    if depth == 0 { return index + 1 }
                case UInt8(ascii: ","), 0x20, 0x0A, 0x0D, 0x09:
                    if depth == 0 { return index }
                default: break
                }
            }
            index += 1
        }
        return nil
    }
}
