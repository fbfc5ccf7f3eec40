import Foundation
import HushCore
import Testing

@Suite struct JSONWriterTests {
    @Test func stringsAreEscapedAndReadBack() throws {
        let samples = ["plain", "quote \" and \\ backslash", "new\nline\ttab\r", "\u{01}\u{1F}", "ünïcødé 🙂", "", "/slash"]
        var json = JSONWriter()
        json.array(samples) { json, text in json.string(text) }
        let parsed = try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String]
        #expect(parsed == samples)
    }

    @Test func valuesWriteWhatJSONEncoderWrites() throws {
        let value = JSONValue.object([
            "b": .array([.number(1), .number(-2.5), .number(1e20), .bool(true), .null]),
            "a": .string("x\"y"),
            "nested": .object(["z": .number(0), "y": .object([:])]),
        ])
        var json = JSONWriter()
        value.write(to: &json)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let written = try JSONDecoder().decode(JSONValue.self, from: Data(json.bytes))
        #expect(written == value)
        #expect(String(decoding: json.bytes, as: UTF8.self).hasPrefix(#"{"a":"x\"y","b":[1,-2.5,"#))
        #expect(try JSONDecoder().decode(JSONValue.self, from: encoder.encode(value)) == written)
    }
}
