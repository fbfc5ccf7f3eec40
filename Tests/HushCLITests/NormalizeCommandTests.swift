import Foundation
import HushTestSupport
import Testing

@Suite(.sqliteOnly) struct NormalizeCommandTests {
    @Test func printsTheKeyOfEachAddressAndExitsOneIfAnyIsRefused() async throws {
        let cli = try await CLI()
        let ok = try await cli.run(["normalize", "--region", "gb", "+44 (0)121 234 5678", "020 7946 0958", "ANN@Ｅxample.com"], database: false)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout == "+441212345678\n+442079460958\nann@example.com\n")
        let refused = try await cli.run(["normalize", "+1 415 555 2671 ext 3", "+14155552671"], database: false)
        #expect(refused.status == 1)
        #expect(refused.stdout.hasPrefix("refused: \"+1 415 555 2671 ext 3\" has an extension"))
        #expect(refused.stdout.hasSuffix("\n+14155552671\n"))
    }

    @Test func jsonLinesAreAnsweredInOrder() async throws {
        let cli = try await CLI()
        let process = try cli.start(["normalize", "--jsonl"], database: false)
        let input = """
            {"address": "0014 44 20 7946 0958", "region": "AU"}
            {"address": "\\u039d\\u0399\\u039a\\u039f\\u03a3@example.gr"}
            {"address": "020 7946 0958"}
            not json

            """
        process.input.fileHandleForWriting.write(Data(input.utf8))
        try process.input.fileHandleForWriting.close()
        let out = await process.finish().stdout
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == #"{"address":"+442079460958"}"#)
        #expect(lines[1] == "{\"address\":\"\u{3BD}\u{3B9}\u{3BA}\u{3BF}\u{3C3}@example.gr\"}")
        #expect(lines[2].contains("a national number needs a region"))
        #expect(lines[3].hasPrefix(#"{"error":"unreadable line"#))
    }

    @Test func unknownRegionIsAnError() async throws {
        let result = try await CLI().run(["normalize", "--region", "UK", "020 7946 0958"], database: false)
        #expect(result.status != 0)
        #expect(result.stderr.contains("\"UK\" is not a region"))
    }
}

@Suite(.sqliteOnly) struct FirstStartTests {
    @Test func processesStartingOnOneNewDatabaseAtOnceAllSucceedWithOneKey() async throws {
        let cli = try await CLI()
        // No HUSH_SECRET_KEY or HUSH_ERASURE_SECRET: each process would create the key files.
        let processes = try (0..<4).map { index in
            try cli.start(["orgs", "create", "org\(index)"], environment: ["HUSH_SECRET_KEY": "", "HUSH_ERASURE_SECRET": ""])
        }
        for running in processes {
            try running.input.fileHandleForWriting.close()
            let errors = String(decoding: PipeReading.all(running.errors.fileHandleForReading), as: UTF8.self)
            running.process.waitUntilExit()
            #expect(running.process.terminationStatus == 0, "\(errors)")
        }
        let key = try String(contentsOfFile: cli.database + ".secret-key", encoding: .utf8)
        #expect(key.trimmingCharacters(in: .whitespacesAndNewlines).count == 64)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: cli.folder.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }
}
