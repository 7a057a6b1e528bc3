import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The run directory's timestamps (every log record's `time`, state.json's `time`): UTC,
/// ISO 8601 with milliseconds, "2026-12-07T09:47:18.123Z". The same string
/// `ISO8601DateFormatter` writes with `.withInternetDateTime` and `.withFractionalSeconds` (the
/// seconds since 1970 times 1000, rounded to the nearest millisecond, half away from zero, as
/// that formatter rounds), built from the calendar fields directly: the formatter goes through
/// CF and ICU, 7 µs a call on a quiet machine and ~70 µs per round in the server's profile under
/// load, once per round on the loop thread. `LogTimestampTests` holds it against the formatter.
public enum LogTimestamp {
    public static func string(from date: Date) -> String {
        let millis = (date.timeIntervalSince1970 * 1000).rounded(.toNearestOrAwayFromZero)
        // Dates this far out are not the clock's; the formatter's own string for them.
        guard millis.magnitude < 2.5e14 else { return formatted(date) }
        let total = Int64(millis)
        var seconds = total / 1000, ms = total % 1000
        if ms < 0 { ms += 1000; seconds -= 1 }
        var t = time_t(seconds)
        var fields = tm()
        guard gmtime_r(&t, &fields) != nil else { return formatted(date) }
        let year = Int(fields.tm_year) + 1900
        guard (0...9999).contains(year) else { return formatted(date) }
        var bytes = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int, at offset: Int, digits: Int) {
            var v = value
            for k in stride(from: offset + digits - 1, through: offset, by: -1) { bytes[k] = UInt8(48 + v % 10); v /= 10 }
        }
        put(year, at: 0, digits: 4); bytes[4] = 0x2D  // -
        put(Int(fields.tm_mon) + 1, at: 5, digits: 2); bytes[7] = 0x2D
        put(Int(fields.tm_mday), at: 8, digits: 2); bytes[10] = 0x54  // T
        put(Int(fields.tm_hour), at: 11, digits: 2); bytes[13] = 0x3A  // :
        put(Int(fields.tm_min), at: 14, digits: 2); bytes[16] = 0x3A
        put(Int(fields.tm_sec), at: 17, digits: 2); bytes[19] = 0x2E  // .
        put(Int(ms), at: 20, digits: 3); bytes[23] = 0x5A  // Z
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func now() -> String { string(from: Date()) }

    /// The formatter itself, for dates outside years 0–9999 only.
    static func formatted(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }
}
