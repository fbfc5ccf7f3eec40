import HushCore
import Testing

extension JSONScannerTests {
    @Test func aScanResumedByteByByteEndsWhereAWholeScanDoes() throws {
        let values = [#""a\"b\\\u00e9c""#, #"{"a": ["x\\", {"b": "}]"}], "c": -1}"#, "[]", "-12.5e3 ", "true,", "}"]
        for text in values {
            let bytes = Array(text.utf8)
            let expected = try #require(JSONScanner.valueEnd(bytes, from: 0))
            var scan = JSONScanner.ValueScan()
            var length: Int?
            var arrived = 0
            while length == nil, arrived < bytes.count {
                arrived += 1
                length = scan.length(of: bytes[..<arrived])
            }
            #expect(length == expected, "\(text)")
            #expect(scan.read <= expected, "each byte read once")
        }
        var unfinished = JSONScanner.ValueScan()
        #expect(unfinished.length(of: Array(#""ends in an escape\"#.utf8)[...]) == nil)
        #expect(unfinished.length(of: Array(#""ends in an escape\""#.utf8)[...]) == nil, "the escaped quote does not end it")
    }
}
