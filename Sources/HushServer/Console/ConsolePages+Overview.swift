import Foundation
import Hummingbird
import HushCore

extension ConsolePages {
    func registerOverview(on console: Group) {
        console.get("") { request, context in try await overview(request, context) }
    }

    /// Opt-outs per day by channel and by source, suppressions in force, what waits for
    /// someone, and the latest sends.
    private func overview(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        try await page("overview", title: "Overview", section: "", request, context) {
            let days = Query(request).optional("days") == "90" ? 90 : 30
            let stats = try await get("stats?days=\(days)", context)
            var dayNames: [String] = []
            if let first = stats["from"]?.string, let start = Timestamp.parse(first + "T00:00:00.000Z") {
                dayNames = (0..<days).map { StatsRoutes.day(Int64(start.timeIntervalSince1970 / 86_400) + Int64($0)) }
            }
            var byChannel: [String: [String: Int]] = [:]
            var bySource: [String: [String: Int]] = [:]
            var total = 0
            for point in stats["opt_outs"]?.array ?? [] {
                guard let day = point["day"]?.string, let count = point["count"]?.int else { continue }
                byChannel[day, default: [:]][point["channel"]?.string ?? "", default: 0] += Int(count)
                bySource[day, default: [:]][point["source"]?.string ?? "", default: 0] += Int(count)
                total += Int(count)
            }
            let channelChart = StackedBars(days: dayNames, counts: byChannel, label: "Opt-outs per day by channel")
            let sourceChart = StackedBars(days: dayNames, counts: bySource, label: "Opt-outs per day by source")
            let suppressions = (stats["suppressions"]?.array ?? []).map { $0.template }
            let inForce = (stats["suppressions"]?.array ?? []).reduce(0) { $0 + Int($1["count"]?.int ?? 0) }

            var waiting: Int?
            let review = try await call(.get, "review?limit=1000", context)
            if review.ok { waiting = (review.json["messages"]?.array?.count ?? 0) + (review.json["crm_unchecks"]?.array?.count ?? 0) }
            let webhooks = try await get("webhooks", context)["webhooks"]?.array ?? []
            var failingWebhooks: [[String: Any]] = []
            for hook in webhooks {
                guard let id = hook["id"]?.int else { continue }
                let shown: (String, String) -> Void = { state, problem in
                    failingWebhooks.append(["id": Int(id), "url": hook["url"]?.string ?? "", "state": state, "problem": problem])
                }
                if hook["enabled"]?.bool == false {
                    if let reason = hook["disabled_reason"]?.string { shown("disabled", reason) }
                    continue
                }
                // An enabled endpoint fails too: its oldest waiting delivery was already tried, or
                // deliveries gave up (dead) and wait for a retry by hand.
                let waiting = try await call(.get, "webhooks/\(id)/deliveries?status=pending&limit=1", context)
                if let oldest = waiting.json["deliveries"]?.array?.first, (oldest["attempts"]?.int ?? 0) > 0 {
                    shown("retrying", oldest["error"]?.string ?? "the last attempt failed")
                } else if try await call(.get, "webhooks/\(id)/deliveries?status=dead&limit=1", context).json["deliveries"]?.array?.isEmpty == false {
                    shown("dead deliveries", "deliveries gave up; retry them from the endpoint's page")
                }
            }
            var failingConnectors: [[String: Any]] = []
            // Connectors are an admin's to see; a member's overview leaves them out.
            let connectors = try await call(.get, "connectors", context)
            for connector in connectors.ok ? connectors.json["connectors"]?.array ?? [] : [] {
                guard let id = connector["id"]?.int else { continue }
                let status = try await get("connectors/\(id)/status", context)
                if let state = status["state"]?.string, state != "ok", state != "disabled" {
                    failingConnectors.append(["id": Int(id), "name": connector["name"]?.string ?? "", "state": state,
                                              "error": status["last_error"]?["message"]?.string ?? ""])
                }
            }
            let sends = (try await get("sends?limit=5", context)["sends"]?.array ?? []).map { send -> [String: Any] in
                var values = send.template as? [String: Any] ?? [:]
                let counts = send["counts"]
                let checked = Int((counts?["allowed"]?.int ?? 0) + (counts?["blocked"]?.int ?? 0))
                values["blocked_share"] = checked == 0 ? "0%" : "\(Int((Double(counts?["blocked"]?.int ?? 0) * 100 / Double(checked)).rounded()))%"
                values["created"] = Self.shown(send["created_at"]?.string)
                return values
            }
            return [
                "days": days, "days90": days == 90, "total": total,
                "by_channel": channelChart.svg, "channel_legend": channelChart.legend,
                "by_source": sourceChart.svg, "source_legend": sourceChart.legend,
                "suppressions": suppressions, "in_force": inForce,
                "waiting": waiting as Any, "review_visible": waiting != nil,
                "failing_webhooks": failingWebhooks, "failing_connectors": failingConnectors,
                "all_healthy": failingWebhooks.isEmpty && failingConnectors.isEmpty, "sends": sends,
            ]
        }
    }
}
