import Foundation
import AviaryLog
import AviaryReport
import AviaryTopology

/// Groups runs whose saved topologies (`RUN/topology.toml`, the resolved configuration) differ
/// only in `[seeds]` and names, labelled by the settings that tell the groups apart.
enum SeedGrouping {
    /// nil when some run has no saved topology (an old run directory): then runs are not grouped.
    static func groups(runDirectories: [String]) throws(RunFileError) -> [RunComparison.SeedGroup]? {
        var settings: [[String: String]] = []
        for dir in runDirectories {
            let path = RunDirectory(path: dir).topology
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            do {
                settings.append(try TopologySettings(text: String(decoding: data, as: UTF8.self), file: path).experiment)
            } catch {
                throw .cannotOpen(path: path, reason: "\(error)")
            }
        }
        var keys: [[String: String]] = []
        var members: [[Int]] = []
        for (i, s) in settings.enumerated() {
            if let g = keys.firstIndex(of: s) { members[g].append(i) } else { keys.append(s); members.append([i]) }
        }
        let labels = TopologySettings.distinguishingLabels(keys)
        let distinct = TopologySettings.distinguishingSettings(keys)
        return zip(zip(labels, distinct), members).map { pair, m in
            RunComparison.SeedGroup(label: pair.0.isEmpty ? (runDirectories[m[0]] as NSString).lastPathComponent : pair.0,
                                    members: m, settings: pair.1)
        }
    }
}
