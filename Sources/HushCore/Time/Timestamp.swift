import Foundation

/// Times as the API and the CSV files write them: ISO 8601 in UTC with milliseconds,
/// `2026-11-23T14:57:53.719Z`. Formatting is arithmetic (no formatter, no locale), because every
/// blocked check writes one.
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        append(date, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the formatted time to `bytes`.
    public static func append(_ date: Date, to bytes: inout [UInt8]) {
        // Hush stores milliseconds; the nearest one undoes the binary fraction of the Date.
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var days = milliseconds / 86_400_000
        var ofDay = milliseconds % 86_400_000
        if ofDay < 0 {
            ofDay += 86_400_000
            days -= 1
        }
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

        digits(year, 4, &bytes)
        bytes.append(UInt8(ascii: "-"))
        digits(month, 2, &bytes)
        bytes.append(UInt8(ascii: "-"))
        digits(day, 2, &bytes)
        bytes.append(UInt8(ascii: "T"))
        digits(ofDay / 3_600_000, 2, &bytes)
        bytes.append(UInt8(ascii: ":"))
        digits(ofDay / 60_000 % 60, 2, &bytes)
        bytes.append(UInt8(ascii: ":"))
        digits(ofDay / 1000 % 60, 2, &bytes)
        bytes.append(UInt8(ascii: "."))
        digits(ofDay % 1000, 3, &bytes)
        bytes.append(UInt8(ascii: "Z"))
    }

    /// Reads ISO 8601 date-times, with or without fractional seconds.
    /// An RFC 3339 date-time (`2026-01-31T12:00:00Z`, fractions and offsets allowed) and
    /// nothing after it: Foundation's parser alone accepts trailing junk.
    public static func parse(_ text: String) -> Date? {
        guard isWellFormed(text) else { return nil }
        return (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
            ?? (try? Date.ISO8601FormatStyle().parse(text))
    }

    /// `YYYY-MM-DDTHH:MM:SS`, an optional fraction of 1 to 9 digits, then `Z` or `±HH:MM`.
    static func isWellFormed(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        func digits(_ range: Range<Int>) -> Bool {
            range.upperBound <= bytes.count && range.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[$0]) }
        }
        func byte(_ index: Int, _ expected: Character) -> Bool {
            index < bytes.count && bytes[index] == expected.asciiValue
        }
        guard digits(0..<4), byte(4, "-"), digits(5..<7), byte(7, "-"), digits(8..<10), byte(10, "T") || byte(10, "t"),
              digits(11..<13), byte(13, ":"), digits(14..<16), byte(16, ":"), digits(17..<19)
        else { return false }
        var index = 19
        if byte(index, ".") {
            let start = index + 1
            index = start
            while digits(index..<(index + 1)) { index += 1 }
            guard (1...9).contains(index - start) else { return false }
        }
        if byte(index, "Z") || byte(index, "z") { return index + 1 == bytes.count }
        guard byte(index, "+") || byte(index, "-"), digits((index + 1)..<(index + 3)), byte(index + 3, ":"), digits((index + 4)..<(index + 6))
        else { return false }
        return index + 6 == bytes.count
    }

    private static func digits(_ value: Int64, _ width: Int, _ bytes: inout [UInt8]) {
        var divisor: Int64 = 1
        for _ in 1..<width { divisor *= 10 }
        var value = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
            value %= divisor
            divisor /= 10
        }
    }
}
