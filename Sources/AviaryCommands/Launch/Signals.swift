import CProcessControl
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
    // A blocked mask is inherited across exec (a test runner's spawning thread blocks these,
    // for one): a handler behind a blocked signal would never run, so unblock them here.
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

let interrupted: @Sendable () -> Bool = { interruptRequested != 0 }

/// A process started by `aviary run` (which sets AVIARY_PARENT_PID) asks the kernel for SIGTERM
/// when the launcher dies, even by SIGKILL, so no server or client outlives it. Linux only; a
/// no-op elsewhere and for processes started by hand.
func dieWithLauncher() {
    guard let text = ProcessInfo.processInfo.environment[ProcessLauncher.parentVariable], let launcher = Int32(text) else { return }
    _ = aviary_set_parent_death_signal(SIGTERM)
    // The launcher may have died before the request took effect: then nobody will signal us.
    // (A wrapper script between launcher and process is fine while the launcher lives.)
    if getppid() != launcher && kill(launcher, 0) != 0 && errno == ESRCH {
        FileHandle.standardError.write(Data("error: the launcher (pid \(launcher)) has already exited; not starting\n".utf8))
        exit(1)
    }
}
