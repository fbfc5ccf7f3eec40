import Foundation
import Hummingbird
import HushCore
import HushStore

/// `GET /v1/stats`: the organization's opt-outs and opt-ins per day and its suppressions in
/// force per list and channel, read from counters the database keeps in each write's
/// transaction (so the answer costs the same at 1 M suppressions as at ten).
struct StatsRoutes: Sendable {
    static let dayRange = 1...366

    let store: any ConsoleStore & Directory
    let now: @Sendable () -> Date

    func register(on group: V1Group) {
        group.on(.get, "stats") { request, context in try await stats(request, context) }
    }

    struct DayJSON: Encodable, Sendable {
        let day: String
        let channel: String
        let source: String
        let count: Int
    }

    struct CountJSON: Encodable, Sendable {
        let list: Int64
        let listName: String
        let channel: String
        let count: Int

        enum CodingKeys: String, CodingKey {
            case list, channel, count
            case listName = "list_name"
        }
    }

    struct StatsJSON: Encodable, Sendable {
        let days: Int
        let from: String
        let optOuts: [DayJSON]
        let optIns: [DayJSON]
        let suppressions: [CountJSON]

        enum CodingKeys: String, CodingKey {
            case days, from, suppressions
            case optOuts = "opt_outs"
            case optIns = "opt_ins"
        }
    }

    static func day(_ number: Int64) -> String {
        String(Timestamp.format(Date(timeIntervalSince1970: TimeInterval(number) * 86_400)).prefix(10))
    }

    private func stats(_ request: Request, _ context: HushRequestContext) async throws -> JSONBody<StatsJSON> {
        let caller = try context.caller()
        let days = try Query(request, accepting: ["days"]).integer("days", default: 30, range: Self.dayRange)
        let today = Int64((now().timeIntervalSince1970 / 86_400).rounded(.down))
        let first = today - Int64(days) + 1
        let events = try await store.dailyEvents(in: caller.organization, from: first)
        func series(_ kind: String) -> [DayJSON] {
            events.filter { $0.kind == kind }.map { DayJSON(day: Self.day($0.day), channel: $0.channel, source: $0.source, count: $0.events) }
        }
        let lists = Dictionary(uniqueKeysWithValues: try await store.lists(in: caller.organization).map { ($0.id, $0.definition.name) })
        let counts = try await store.suppressionCounts(in: caller.organization).compactMap { count in
            lists[count.list].map { CountJSON(list: count.list.rawValue, listName: $0, channel: count.channel, count: count.suppressions) }
        }
        return JSONBody(StatsJSON(days: days, from: Self.day(first), optOuts: series("opt_out"), optIns: series("opt_in"), suppressions: counts))
    }
}
