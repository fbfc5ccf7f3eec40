import Foundation
import HushCore
import Testing

@Suite struct TimestampTests {
    /// Foundation's formatter truncates to the millisecond, so it is given the time a little
    /// past the millisecond that Hush stored.
    private func foundation(_ milliseconds: Int64) -> String {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000 + 0.0002)
            .formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    @Test(arguments: [
        Int64(0), 951_782_400_123, 1_795_446_273_719, -86_400_500, 4_102_444_799_999, 1_709_164_800_000, -2_208_988_800_000,
    ])
    func formatsLikeFoundation(milliseconds: Int64) {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        #expect(Timestamp.format(date) == foundation(milliseconds))
        #expect(Timestamp.parse(Timestamp.format(date)).map { abs($0.timeIntervalSince(date)) < 0.0005 } == true)
    }

    @Test func everyFewDaysOfFourHundredYearsMatch() {
        var milliseconds: Int64 = -2_208_988_800_000  // 1900-01-01
        while milliseconds < 10_413_792_000_000 {  // 2300-01-01
            #expect(Timestamp.format(Date(timeIntervalSince1970: Double(milliseconds) / 1000)) == foundation(milliseconds))
            milliseconds += 86_400_000 * 13 + 3_661_007
        }
    }
}
