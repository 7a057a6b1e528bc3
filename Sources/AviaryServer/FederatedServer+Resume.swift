import Foundation
import AviaryLog

extension FederatedServer {
    struct ResumePoint {
        var round: Int
        var unresponsive: Set<Int>
    }

    /// Opens the existing run directory and restores the state of its last completed round.
    func resumeFromState() throws -> ResumePoint {
        throw RunFileError.cannotWrite(path: directory.path, reason: "resume is not available yet")
    }

    /// Records what resume needs after round `round` (written atomically after the log line).
    func saveState(round: Int) throws {}
}
