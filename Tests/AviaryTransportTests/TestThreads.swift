import Foundation
import Synchronization

/// Runs a closure on its own `Thread` (socket loops must never block a concurrency task) and
/// lets the test wait for it with a bound.
final class Worker: Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () -> Void) {
        let done = self.done
        let thread = Thread {
            body()
            done.signal()
        }
        thread.start()
    }

    /// True when the thread finished within `seconds`.
    func join(seconds: Double = 30) -> Bool {
        done.wait(timeout: .now() + seconds) == .success
    }
}

/// A value shared between a worker thread and the test.
final class Shared<T: Sendable>: Sendable {
    private let value: Mutex<T>
    init(_ v: T) { value = Mutex(v) }
    func update(_ f: (inout T) -> Void) { value.withLock { f(&$0) } }
    var get: T { value.withLock { $0 } }
}
