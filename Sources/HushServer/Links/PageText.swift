import Foundation
import Hummingbird
import HushCore
import Mustache

/// How the organization appears on its pages, with a text colour that stays readable on its
/// brand colour.
struct Brand {
    static let defaultColor = "#1d4ed8"
    let name: String
    let values: [String: Any]

    init(_ organization: Organization?) {
        let branding = organization?.settings.branding ?? Branding()
        name = branding.displayName ?? organization?.name ?? "Hush"
        let color = branding.color ?? Self.defaultColor
        var values: [String: Any] = ["name": name, "color": color, "on_color": Self.readableText(on: color)]
        if let logo = branding.logoURL { values["logo"] = logo }
        self.values = values
    }

    /// Black or white, whichever contrasts more with `color` (WCAG relative luminance).
    static func readableText(on color: String) -> String {
        let digits = Array(color.dropFirst())
        guard digits.count == 6 else { return "#ffffff" }
        func channel(_ offset: Int) -> Double {
            let value = Double(Int(String(digits[offset..<offset + 2]), radix: 16) ?? 0) / 255
            return value <= 0.03928 ? value / 12.92 : pow((value + 0.055) / 1.055, 2.4)
        }
        let luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)
        return (1.05 / (luminance + 0.05)) >= ((luminance + 0.05) / 0.05) ? "#ffffff" : "#000000"
    }
}

extension HTTPFields.Element.Name {
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
}

/// The pages' words, all in `Pages/strings.json` so they can be translated in one place, and the
/// templates that use them.
enum PageText {
    static let strings: [String: String] = {
        guard let url = Bundle.module.url(forResource: "strings", withExtension: "json", subdirectory: "Pages"),
              let data = try? Data(contentsOf: url),
              let strings = try? JSONDecoder().decode([String: String].self, from: data)
        else { preconditionFailure("Pages/strings.json is missing from the HushServer resources") }
        return strings
    }()

    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for name in ["layout", "preferences", "done", "confirm", "message"] {
            guard let url = Bundle.module.url(forResource: name, withExtension: "mustache", subdirectory: "Pages"),
                  let text = try? String(contentsOf: url, encoding: .utf8)
            else { preconditionFailure("Pages/\(name).mustache is missing from the HushServer resources") }
            do {
                try library.register(text, named: name)
            } catch {
                preconditionFailure("Pages/\(name).mustache does not parse: \(error)")
            }
        }
        return library
    }()

    static func string(_ key: String) -> String {
        strings[key] ?? key
    }

    /// The string with each `%@` replaced by the next argument.
    static func format(_ key: String, _ arguments: String...) -> String {
        var result = ""
        var remaining = arguments[...]
        var text = Substring(string(key))
        while let range = text.range(of: "%@") {
            result += text[..<range.lowerBound]
            result += remaining.popFirst() ?? ""
            text = text[range.upperBound...]
        }
        return result + text
    }

    static func render(_ template: String, status: HTTPResponse.Status, _ values: [String: Any]) -> Response {
        var values = values
        values["t"] = strings
        let html = library.render(values, withTemplate: template) ?? ""
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.xFrameOptions] = "DENY"
        headers[.referrerPolicy] = "no-referrer"
        headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; img-src https:; form-action 'self'"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
