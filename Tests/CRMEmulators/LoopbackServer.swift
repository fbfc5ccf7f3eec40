import Hummingbird
import Logging
import ServiceLifecycle

/// An emulator's HTTP server on a free loopback port, stopped gracefully: requests in flight
/// finish and idle connections close first.
struct LoopbackServer: Sendable {
    let port: Int
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    /// How long the server has to start listening; one that fails or never starts throws
    /// rather than leaving its caller waiting.
    static let startupLimit: Duration = .seconds(120)

    static func start(_ router: Router<BasicRequestContext>) async throws -> LoopbackServer {
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) })
        let group = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: [], logger: Logger(label: "crm-emulator")))
        let running = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        guard let port = await announcedPort(stream, continuation, within: startupLimit) else {
            await group.triggerGracefulShutdown()
            try await running.value
            throw NotStarted()
        }
        return LoopbackServer(port: port, group: group, running: running)
    }

    struct NotStarted: Error, CustomStringConvertible {
        var description: String { "the emulator's server did not start listening within \(LoopbackServer.startupLimit)" }
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
    }
}

/// The first port a server announces on `ports`, or nil when the stream ends first (the server's
/// task finishes it when it stops) or nothing comes within `limit`: a server that never starts
/// fails its caller instead of hanging it.
public func announcedPort(_ ports: AsyncStream<Int>, _ continuation: AsyncStream<Int>.Continuation, within limit: Duration) async -> Int? {
    let watchdog = Task {
        try? await Task.sleep(for: limit)
        continuation.finish()
    }
    defer { watchdog.cancel() }
    for await port in ports { return port }
    return nil
}
