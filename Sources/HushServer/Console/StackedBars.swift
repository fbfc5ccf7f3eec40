import Foundation

/// A stacked bar chart drawn on the server as SVG: one bar per day, one colour per category.
struct StackedBars {
    static let palette = ["#1d4ed8", "#15803d", "#b45309", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f", "#a21caf", "#475569"]

    /// Days in order, and per day the count of each category.
    let days: [String]
    let counts: [String: [String: Int]]
    let label: String

    var categories: [String] {
        Set(counts.values.flatMap(\.keys)).sorted()
    }

    func colour(_ category: String) -> String {
        Self.palette[(categories.firstIndex(of: category) ?? 0) % Self.palette.count]
    }

    /// The legend: each category with its colour and total.
    var legend: [[String: Any]] {
        categories.map { category in
            ["name": category, "colour": colour(category), "total": counts.values.reduce(0) { $0 + ($1[category] ?? 0) }]
        }
    }

    var svg: String {
        let width = 720.0, height = 180.0, top = 10.0, bottom = 20.0
        let highest = max(1, days.map { day in counts[day]?.values.reduce(0, +) ?? 0 }.max() ?? 0)
        let slot = width / Double(max(1, days.count))
        let bar = max(1, slot * 0.75)
        var parts = [#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \#(Int(width)) \#(Int(height))" role="img" aria-label="\#(escaped(label))">"#]
        parts.append(##"<line x1="0" y1="\##(height - bottom)" x2="\##(width)" y2="\##(height - bottom)" stroke="#d4d4d8"/>"##)
        for (index, day) in days.enumerated() {
            var y = height - bottom
            let x = Double(index) * slot + (slot - bar) / 2
            for category in categories {
                guard let count = counts[day]?[category], count > 0 else { continue }
                let h = (height - top - bottom) * Double(count) / Double(highest)
                y -= h
                parts.append(#"<rect x="\#(number(x))" y="\#(number(y))" width="\#(number(bar))" height="\#(number(h))" fill="\#(colour(category))">"#
                    + "<title>\(escaped(day)) \(escaped(category)): \(count)</title></rect>")
            }
        }
        if let first = days.first, let last = days.last {
            parts.append(##"<text x="0" y="\##(height - 4)" font-size="11" fill="#52525b">\##(escaped(first))</text>"##)
            parts.append(##"<text x="\##(width)" y="\##(height - 4)" font-size="11" fill="#52525b" text-anchor="end">\##(escaped(last))</text>"##)
        }
        parts.append(##"<text x="0" y="\##(top + 2)" font-size="11" fill="#52525b">\##(highest)</text>"##)
        parts.append("</svg>")
        return parts.joined()
    }

    /// One bar across the width, a segment per category: a send's recipients by status.
    var horizontal: String {
        let width = 720.0, height = 36.0
        let total = max(1, counts.values.flatMap(\.values).reduce(0, +))
        var parts = [#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \#(Int(width)) \#(Int(height))" role="img" aria-label="\#(escaped(label))">"#]
        var x = 0.0
        for category in categories {
            let count = counts.values.reduce(0) { $0 + ($1[category] ?? 0) }
            guard count > 0 else { continue }
            let w = width * Double(count) / Double(total)
            parts.append(#"<rect x="\#(number(x))" y="0" width="\#(number(w))" height="\#(Int(height))" fill="\#(colour(category))">"#
                + "<title>\(escaped(category)): \(count)</title></rect>")
            x += w
        }
        parts.append("</svg>")
        return parts.joined()
    }

    /// One decimal place is plenty at this size.
    private func number(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    private func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
