import Hummingbird
import Logging
import ServiceLifecycle

/// An emulator's HTTP server on a free loopback port, stopped gracefully: requests in flight
/// finish and idle connections close first.
struct LoopbackServer: Sendable {
    let port: Int
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    static func start(_ router: Router<BasicRequestContext>) async -> LoopbackServer {
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) })
        let group = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: [], logger: Logger(label: "crm-emulator")))
        let running = Task { try await group.run() }
        var port = 0
        for await bound in stream {
            port = bound
            break
        }
        return LoopbackServer(port: port, group: group, running: running)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
    }
}
