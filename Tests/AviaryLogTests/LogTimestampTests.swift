import Foundation
import Testing
import AviaryMath
@testable import AviaryLog

/// `LogTimestamp` writes the string `ISO8601DateFormatter` wrote for every log timestamp.
@Suite struct LogTimestampTests {
    private static func reference(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    @Test func theSameStringAsTheFormatterAtEveryKindOfInstant() {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var dates: [Date] = []
        // Half-millisecond ties and their neighbours (the rounding), second, day, month, year
        // and leap-day boundaries, the epoch and before it, and the far years.
        for base in [0.0, 951_782_400, 1_709_164_800, 1_765_100_000, 1_767_225_599, 4_102_444_799, -1, -86_400.5, 253_402_300_799] {
            for frac in [0.0, 0.0004, 0.0005, 0.0006, 0.0015, 0.0025, 0.123456, 0.4995, 0.5, 0.9994, 0.9995, 0.99951, 0.9999, 0.99999] {
                dates.append(Date(timeIntervalSince1970: base + frac))
            }
        }
        // Random instants from 1970 to 2100 at sub-microsecond resolution, and random ties.
        var rng = RandomStream(seed: 5, purpose: .synthetic)
        for _ in 0..<100_000 { dates.append(Date(timeIntervalSince1970: rng.uniform(0, 4.1e9))) }
        for _ in 0..<20_000 { dates.append(Date(timeIntervalSince1970: Double(rng.nextInt(below: 4_000_000_000)) + Double(rng.nextInt(below: 1000)) / 1000 + 0.0005)) }
        dates.append(Date())
        var mismatches: [String] = []
        for d in dates {
            let a = LogTimestamp.string(from: d), b = f.string(from: d)
            if a != b { mismatches.append("\(d.timeIntervalSince1970): \(a) vs \(b)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(dates.count) differ, e.g. \(mismatches.prefix(5))")
    }

    @Test func datesOutsideYearsZeroTo9999AreTheFormattersToo() {
        for t in [-62_167_219_200.5, 253_402_300_800.25, 1e13] {
            let d = Date(timeIntervalSince1970: t)
            #expect(LogTimestamp.string(from: d) == Self.reference(d), "\(t)")
        }
    }
}
