import HushCore
import Testing

@Suite struct JSONScannerTests {
    @Test func membersAndElementsAreSplitRaw() throws {
        let object = Array(#"{"a": "x,\"}y", "b":[1, {"c": [2]}] , "d":null,"e":-1.5e3}"#.utf8)
        let members = try #require(JSONScanner.members(of: object[...]))
        #expect(members.map { String(decoding: $0.key, as: UTF8.self) } == ["a", "b", "d", "e"])
        #expect(members.map { String(decoding: $0.value, as: UTF8.self) } == [#""x,\"}y""#, #"[1, {"c": [2]}]"#, "null", "-1.5e3"])
        let elements = try #require(JSONScanner.elements(of: members[1].value))
        #expect(elements.map { String(decoding: $0, as: UTF8.self) } == ["1", #"{"c": [2]}"#])
        #expect(JSONScanner.members(of: Array("{}".utf8)[...])?.isEmpty == true)
        #expect(JSONScanner.members(of: Array(#"{"a" 1}"#.utf8)[...]) == nil)
        #expect(JSONScanner.valueEnd(Array(#""unfinished"#.utf8), from: 0) == nil, "more bytes are needed")
    }
}
