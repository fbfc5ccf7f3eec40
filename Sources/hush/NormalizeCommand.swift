import ArgumentParser
import Foundation
import HushCore

/// Shows the key Hush stores an address under, without opening a database: for checking a
/// list before an import, and for the differential test against libphonenumber and UTS 46.
struct NormalizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "normalize",
        abstract: "Print the normalized key of each address (E.164 or a normalized email).",
        discussion: """
            With addresses as arguments, prints one key per line, or the reason an address is \
            refused (and exits 1 if any was). With --jsonl, reads JSON lines such as \
            {"address": "020 7946 0958", "region": "GB"} from standard input and writes \
            {"address": "+442079460958"} or {"error": "…"} for each, in order.
            """)

    @Option(help: "The region national phone numbers are read for (ISO 3166 code, such as GB).")
    var region: String?

    @Flag(help: "Read JSON lines from standard input and answer each with a JSON line.")
    var jsonl = false

    @Argument(help: "Addresses to normalize.")
    var addresses: [String] = []

    func run() throws {
        let region = try region.map { code in
            guard let region = Region(code: code) else {
                throw ValidationError("\"\(code)\" is not a region Hush knows (libphonenumber \(PhoneMetadata.version))")
            }
            return region
        }
        if jsonl {
            try streamJSONLines(defaultRegion: region)
            return
        }
        var refused = false
        for text in addresses {
            do {
                print(try Address(parsing: text, region: region).normalized)
            } catch {
                refused = true
                print("refused: \(error.message)")
            }
        }
        if refused { throw ExitCode(1) }
    }

    private struct Line: Decodable {
        let address: String
        let region: String?
    }

    private func streamJSONLines(defaultRegion: Region?) throws {
        let decoder = JSONDecoder()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        while let text = readLine(strippingNewline: true) {
            guard !text.isEmpty else { continue }
            let answer: [String: String]
            do {
                let line = try decoder.decode(Line.self, from: Data(text.utf8))
                var region = defaultRegion
                if let code = line.region, !code.isEmpty {
                    guard let named = Region(code: code) else { throw HushError.invalid("region", "unknown region \(code)") }
                    region = named
                }
                answer = ["address": try Address(parsing: line.address, region: region).normalized]
            } catch let error as HushError {
                answer = ["error": error.message]
            } catch {
                answer = ["error": "unreadable line: \(error)"]
            }
            FileHandle.standardOutput.write(try encoder.encode(answer) + Data("\n".utf8))
        }
    }
}
