import Foundation

/// Whether a test that needs `present` (a dataset, a tool) runs. Under `CI=true` it always runs,
/// so a missing prerequisite there is a failure (make test installs them), never a quiet skip.
/// Every test target uses this one copy.
public enum Prerequisite {
    public static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
    public static func enabled(_ present: Bool) -> Bool { present || inCI }
}
