import Foundation
import Logging
import PostgresNIO
import Testing

/// The PostgreSQL server the `.postgres` backend runs on: `HUSH_TEST_POSTGRES_URL`
/// (`postgres://user@host:port/database`), whose user may create databases. Absent, the
/// PostgreSQL runs are skipped (the `PostgresRunsTests` suite says so).
public enum PostgresServer {
    public static var url: String? {
        ProcessInfo.processInfo.environment["HUSH_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Creates an empty database for one test and drops it when the test's scope ends;
    /// returns its URL.
    static func createDatabase() async throws -> String {
        guard let url, var components = URLComponents(string: url) else {
            throw PostgresServerError("HUSH_TEST_POSTGRES_URL is not set")
        }
        let name = "hush_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20))"
        try await run("CREATE DATABASE \(name)", on: components)
        let server = components
        TestScope.onEnd {
            try? await run("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", on: server)
        }
        components.path = "/" + name
        return components.string ?? url
    }

    /// Runs one statement on the server's own database, on a connection of its own.
    private static func run(_ statement: String, on components: URLComponents) async throws {
        let database = String(components.path.dropFirst())
        let configuration = PostgresConnection.Configuration(
            host: components.host ?? "127.0.0.1", port: components.port ?? 5432,
            username: components.user ?? "postgres", password: components.password,
            database: database.isEmpty ? "postgres" : database, tls: .disable)
        let logger = Logger(label: "hush.tests.postgres")
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        do {
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}

struct PostgresServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
