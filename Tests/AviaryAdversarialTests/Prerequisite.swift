import Foundation

/// Whether a test that needs `present` (a dataset, a tool) runs. Under `CI=true` it always runs,
/// so a missing prerequisite there is a failure (make test installs them), never a quiet skip.
enum Prerequisite {
    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
    static func enabled(_ present: Bool) -> Bool { present || inCI }
}
