import CZmq
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns a libzmq context (its I/O thread). One per process is enough: `shared()`.
///
/// `@unchecked Sendable` is safe here: libzmq documents contexts as thread-safe, and this
/// class only stores the immutable handle.
public final class ZmqContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private let terminated = Atomic<Bool>(false)

    /// A new context with its own I/O thread (tests and benchmarks use one per simulated process).
    public init() throws(ZmqError) {
        guard let h = zmq_ctx_new() else { throw ZmqError.last("zmq_ctx_new") }
        handle = h
    }

    deinit { terminate() }

    /// Terminates the context: blocks until every socket of it is closed and their queued frames
    /// have left or their ZMQ_LINGER ran out (bounded, so this cannot hang for long). Without it,
    /// frames queued just before exit (the server's SHUTDOWN, a client's BYE) are dropped.
    /// Idempotent; close this context's sockets first.
    public func terminate() {
        guard terminated.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    private static let store = Mutex<ZmqContext?>(nil)

    /// The process-wide context, created on first use and never terminated.
    public static func shared() throws(ZmqError) -> ZmqContext {
        let result: Result<ZmqContext, ZmqError> = store.withLock { slot in
            if let c = slot { return .success(c) }
            do throws(ZmqError) {
                let c = try ZmqContext()
                slot = c
                return .success(c)
            } catch { return .failure(error) }
        }
        return try result.get()
    }
}
