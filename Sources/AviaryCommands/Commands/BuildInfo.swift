import AviaryServer
import CBuildInfo
import Foundation

/// What `--version` prints: the release and the git commit this build came from (see
/// Sources/CBuildInfo/build_info.h for how the commit gets in without being hard-coded).
public enum BuildInfo {
    /// The release, as the server records it in `run_start`.
    public static var version: String { aviaryVersion }
    public static var commit: String { String(cString: aviary_build_commit()) }
    public static var versionLine: String { "\(version) (commit \(commit))" }
}

/// The name a command shows in USAGE lines: its executable's name when run as the standalone
/// `aviary-server` or `aviary-client`, its subcommand name under `aviary`.
func standaloneName(_ executable: String, subcommand: String) -> String {
    URL(fileURLWithPath: CommandLine.arguments.first ?? "").lastPathComponent == executable ? executable : subcommand
}
