/// Why aviary-server refuses a buffered topology.
public enum BufferedRunError: Error, CustomStringConvertible, Equatable {
    /// The topology, the staleness weights and the event schedule exist (`BufferedSchedule`),
    /// but the server's socket loop runs synchronous rounds only; running a buffered topology
    /// as rounds would silently be another experiment.
    case notRunByThisServer(file: String)

    public var description: String {
        switch self {
        case let .notRunByThisServer(file):
            "\(file): '[server] mode' = \"buffered\" is validated but not run by this aviary-server yet (its event schedule and staleness weights exist; the server loop runs synchronous rounds only): set mode = \"sync\""
        }
    }
}
