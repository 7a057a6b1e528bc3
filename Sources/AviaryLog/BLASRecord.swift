/// Which BLAS a run's server computed with (`run_start.blas`). Results are bit for bit the same
/// only under the same library, version and kernel set (`core`): OpenBLAS picks the kernel for
/// the CPU at start-up unless `OPENBLAS_CORETYPE` pins it.
public struct BLASRecord: Codable, Sendable, Equatable {
    /// "OpenBLAS".
    public var library: String
    /// "0.3.21".
    public var version: String
    /// The kernel set in use, e.g. "Zen", "Haswell".
    public var core: String
    /// OPENBLAS_CORETYPE as the process saw it (nil: not set, OpenBLAS chose for the CPU).
    public var pinned: String?
    /// The library's whole build line.
    public var configuration: String

    public init(library: String, version: String, core: String, pinned: String?, configuration: String) {
        self.library = library; self.version = version; self.core = core; self.pinned = pinned; self.configuration = configuration
    }

    /// From OpenBLAS's build line ("OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH …") and core name.
    public init(configuration: String, core: String, pinned: String?) {
        let words = configuration.split(separator: " ").map(String.init)
        self.init(library: words.first ?? "unknown", version: words.count > 1 ? words[1] : "unknown", core: core,
                  pinned: pinned, configuration: configuration)
    }
}
