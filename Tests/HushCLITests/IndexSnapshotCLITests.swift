import Foundation
import FoundationNetworking
import HushTestSupport
import Testing

/// `hush serve` writes its index snapshot when it stops and reads it back when it starts,
/// replaying what other processes wrote meanwhile.
@Suite(.everyBackend) struct IndexSnapshotCLITests {
    @Test func serveReadsItsSnapshotBackAndReplaysWritesMadeWhileItWasStopped() async throws {
        let cli = try await CLI()
        let snapshot = cli.folder.appendingPathComponent("index").path
        try await cli.run(["orgs", "create", "default"])
        let key = try await cli.run(["keys", "create", "--org", "default", "--role", "member"]).stdout
            .split(separator: "\n").first { $0.hasPrefix("hush_") }.map(String.init)
        #expect(try await cli.run(["opt-out", "ann@example.com", "--channel", "email"]).status == 0)

        let port = freeLoopbackPort()
        func blocked(_ address: String) async -> Bool? {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/check?address=\(address)&channel=email")!)
            request.setValue("Bearer \(key ?? "")", forHTTPHeaderField: "Authorization")
            guard let (body, _) = try? await URLSession.shared.data(for: request) else { return nil }
            return String(decoding: body, as: UTF8.self).contains(#""allowed":false"#)
        }
        let first = try cli.start(["serve", "--port", String(port), "--index-snapshot", snapshot], drained: true)
        #expect(try await eventually { await blocked("ann%40example.com") == true })
        kill(first.process.processIdentifier, SIGTERM)
        first.process.waitUntilExit()
        #expect(first.process.terminationStatus == 0)
        #expect(FileManager.default.fileExists(atPath: snapshot), "a stopped server leaves its index behind")

        // Written while no server runs: the restarted server replays it after the snapshot.
        #expect(try await cli.run(["opt-out", "eve@example.com", "--channel", "email"]).status == 0)
        let second = try cli.start(["serve", "--port", String(port), "--index-snapshot", snapshot], drained: true)
        #expect(try await eventually { await blocked("eve%40example.com") != nil })
        #expect(await blocked("eve%40example.com") == true)
        #expect(await blocked("ann%40example.com") == true)
        #expect(await blocked("bob%40example.com") == false)
        #expect(second.printed.contains("index read from its snapshot"))
    }
}
