import Foundation
import Testing

extension Harness {
    /// Polls `condition` until it holds. When `timeout` passes first, the test fails (an issue
    /// naming `what`, then a thrown error), so a wait can never fall through as if it had succeeded.
    static func waitUntil(_ what: String, timeout: Double, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            guard Date() < deadline else {
                Issue.record("timed out after \(Int(timeout)) s waiting for \(what)")
                throw HarnessError.timedOut(tool: what, seconds: timeout)
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }
}
