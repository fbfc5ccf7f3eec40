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
    public static func parse(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
            ?? (try? Date.ISO8601FormatStyle().parse(text))
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
