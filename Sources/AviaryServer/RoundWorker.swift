import Foundation
import Synchronization
import AviaryProtocol

/// Runs one round's `RoundProcessor` on its own thread while the server's socket loop goes on,
/// or inline (tests). At most one round is in flight: the protocol waits for it.
///
/// `@unchecked Sendable`: the processor is used by one thread at a time — the loop hands it to
/// the round's thread in `start` and does not touch it until `takeResult` returned the result.
final class RoundWorker: @unchecked Sendable {
    private let processor: RoundProcessor
    private let onThread: Bool
    private let slot = Mutex<RoundResult?>(nil)
    private(set) var isBusy = false

    /// True once the round's result is waiting for `takeResult`.
    var hasResult: Bool { isBusy && slot.withLock { $0 != nil } }

    init(processor: RoundProcessor, onThread: Bool) {
        self.processor = processor
        self.onThread = onThread
    }

    /// `inline`: run it on the calling thread now (a round too small to hold up heartbeats; a
    /// thread and the loop's millisecond polls for its result would cost more than the round).
    func start(_ outcome: RoundOutcome, state: ServerModelState, system: SystemRound? = nil, inline: Bool = false) {
        precondition(!isBusy, "a round is already being processed")
        isBusy = true
        guard onThread && !inline else {
            let result = processor.process(outcome, state: state, system: system)
            slot.withLock { $0 = result }
            return
        }
        let thread = Thread { [self] in
            let result = processor.process(outcome, state: state, system: system)
            slot.withLock { $0 = result }
        }
        thread.name = "aviary-round"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// The finished round, once; nil while it is still running (or none was started).
    func takeResult() -> RoundResult? {
        guard isBusy, let result = slot.withLock({ r -> RoundResult? in defer { r = nil }; return r }) else { return nil }
        isBusy = false
        return result
    }
}
