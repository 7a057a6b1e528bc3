import Foundation

/// Set from the signal handler, read by the launcher, server and client loops (a plain flag:
/// the only thing that is safe to do inside a handler).
nonisolated(unsafe) var interruptRequested: sig_atomic_t = 0

/// SIGINT and SIGTERM set `interruptRequested`; each loop then stops in an orderly way (the
/// launcher stops its children, the server sends SHUTDOWN and logs `run_end`). A handler, not
/// SIG_IGN: an ignored disposition would be inherited across exec by the children, which then
/// could not be stopped with SIGTERM.
func installInterruptHandler() {
    let handler: @convention(c) (Int32) -> Void = { _ in interruptRequested = 1 }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
}

let interrupted: @Sendable () -> Bool = { interruptRequested != 0 }
