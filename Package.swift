// swift-tools-version:6.0
// Aviary: a distributed federated-learning simulator. Module layers, bottom to top:
//   C system libraries → AviaryMath → AviaryNN, AviaryData, AviaryMerge → AviaryPrivacy →
//   AviaryProtocol, AviaryLog → AviaryAdversarial, AviaryTopology, AviaryReport → AviaryTransport →
//   AviaryBench, AviaryServer / AviaryClient → AviaryCommands (Commands/, Launch/, Sweep/) → executables.
// Each target lists exactly the modules its files import. docs/ARCHITECTURE.md explains each layer.
import PackageDescription

// Release builds only: exclusivity checks cost ~10% in the training step loop and every
// buffer there is owned by one final class, so they buy nothing.
let hotLoopSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let package = Package(
    name: "Aviary",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "aviary", targets: ["aviary"]),
        .executable(name: "aviary-server", targets: ["aviary-server"]),
        .executable(name: "aviary-client", targets: ["aviary-client"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Secure aggregation's primitives (X25519, HKDF, ChaChaPoly, the ChaCha20 keystream). 3.12.3 up to
        // 4.x: the graph already resolves swift-crypto (swift-certificates and swift-nio-extras accept
        // 3.x-5.x), so one version (4.5.2 from the mirror) serves all; AviarySecAgg is what compiles it.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // C: thin system-library modules, nothing else.
        .systemLibrary(name: "CZmq", path: "Sources/CZmq"),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CISAL", path: "Sources/CISAL"),
        // libgcrypt: SecAgg's mask PRG (AES-128-CTR into a reused buffer, VAES where available).
        .systemLibrary(name: "CGcrypt", path: "Sources/CGcrypt"),
        // Header-only prctl wrapper for the launcher's children.
        .systemLibrary(name: "CProcessControl", path: "Sources/CProcessControl"),
        // Header-only AVX-512/AVX2 kernels, one header per purpose (im2col rows, direct
        // convolutions, SecAgg's rounding and masks, the server's weighted sum), each function
        // with its own target attribute.
        .systemLibrary(name: "CVectorKernels", path: "Sources/CVectorKernels"),
        // The commit `make build` records for --version (see build_info.c).
        .target(name: "CBuildInfo", path: "Sources/CBuildInfo"),

        // Numerics and pure logic: no sockets, no run directory.
        .target(name: "AviaryMath", dependencies: ["COpenBLAS", "CZlib", "CISAL", "CVectorKernels"], swiftSettings: hotLoopSettings),
        .target(name: "AviaryNN", dependencies: ["AviaryMath"], swiftSettings: hotLoopSettings),
        .target(name: "AviaryData", dependencies: ["AviaryMath"], swiftSettings: hotLoopSettings),
        .target(name: "AviaryAdversarial", dependencies: ["AviaryNN", "AviaryMath"], swiftSettings: hotLoopSettings),
        .target(name: "AviaryMerge", dependencies: ["AviaryMath", "CVectorKernels"], swiftSettings: hotLoopSettings),
        // Differential privacy: clipping, Gaussian noise, adaptive clipping, the RDP accountant (pure).
        .target(name: "AviaryPrivacy", dependencies: ["AviaryMath", "AviaryMerge"], swiftSettings: hotLoopSettings),
        // Secure aggregation (SecAgg+): Shamir sharing, the neighbour graph, masking, quantisation
        // and the stage state machines (pure); every primitive comes from swift-crypto, except the
        // masks' AES-128-CTR keystream, which comes from libgcrypt (the same bytes, VAES where available).
        .target(name: "AviarySecAgg", dependencies: [
            "AviaryMath", "CVectorKernels", "CGcrypt",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        // The server's edge turns a wire UPDATE into AviaryMerge's checked `ClientUpdate`; its
        // round pipeline drives AviarySecAgg's stage machine when [secagg] is on.
        .target(name: "AviaryProtocol", dependencies: ["AviaryMath", "AviaryMerge", "AviarySecAgg"]),
        .target(name: "AviaryTopology", dependencies: [
            "AviaryMath", "AviaryNN", "AviaryData", "AviaryAdversarial", "AviaryMerge", "AviaryProtocol", "AviaryLog",
            "AviaryPrivacy", "AviarySecAgg", .product(name: "TOMLKit", package: "TOMLKit"),
        ]),
        // The one module that owns the run directory's formats (JSONL log, safetensors, state).
        // It knows AviaryMerge's optimiser type because the run state persists it.
        .target(name: "AviaryLog", dependencies: ["AviaryMath", "AviaryMerge"]),
        // Presentation: SVG plots, the HTML report, the partition table and heatmap. Data and
        // run-file modules stay free of it.
        .target(name: "AviaryReport", dependencies: ["AviaryLog", "AviaryData"]),

        // Other tools' file formats (TensorBoard event files, the MLflow file store): written from
        // a run's log, never read back by Aviary.
        .target(name: "AviaryExport", dependencies: ["AviaryLog"]),
        // `aviary dashboard`: the run-directory watcher (pure, tested without sockets) and a thin
        // HTTP layer over Hummingbird that serves the page, the run list and live updates.
        .target(name: "AviaryDashboard", dependencies: [
            "AviaryLog", "AviaryReport",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // The one module that owns sockets.
        .target(name: "AviaryTransport", dependencies: ["CZmq", "AviaryProtocol"]),

        // Benchmarks (`aviary bench`): the only place timing code lives, so library modules
        // carry none.
        .target(name: "AviaryBench", dependencies: [
            "AviaryMath", "AviaryNN", "AviaryData", "AviaryAdversarial", "AviaryMerge", "AviaryProtocol",
            "AviaryTransport", "AviaryPrivacy", "AviaryLog", "AviaryDashboard", "AviarySecAgg",
            // SecAggPRGBench times the mask PRG's candidates from the library directly.
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ], swiftSettings: hotLoopSettings),

        // Orchestration.
        .target(name: "AviaryServer", dependencies: [
            "AviaryMath", "AviaryTransport", "AviaryProtocol", "AviaryMerge", "AviaryNN", "AviaryData",
            "AviaryAdversarial", "AviaryLog", "AviaryTopology", "AviaryPrivacy", "AviarySecAgg",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: hotLoopSettings),
        .target(name: "AviaryClient", dependencies: [
            "AviaryMath", "AviaryTransport", "AviaryProtocol", "AviaryNN", "AviaryData", "AviaryAdversarial",
            "AviaryTopology", "AviaryLog", "AviaryPrivacy", "AviarySecAgg",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: hotLoopSettings),
        .target(name: "AviaryCommands", dependencies: [
            "AviaryServer", "AviaryClient", "AviaryTransport", "AviaryProtocol", "AviaryTopology", "AviaryLog", "AviaryMerge", "AviaryNN",
            "AviaryData", "AviaryAdversarial", "AviaryBench", "AviaryReport", "AviaryMath", "CProcessControl", "CBuildInfo",
            "AviaryDashboard", "AviaryExport", "AviaryPrivacy",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "TOMLKit", package: "TOMLKit"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: hotLoopSettings),

        // Executables: thin mains over AviaryCommands.
        .executableTarget(name: "aviary", dependencies: ["AviaryCommands"]),
        .executableTarget(name: "aviary-server", dependencies: ["AviaryCommands"]),
        .executableTarget(name: "aviary-client", dependencies: ["AviaryCommands"]),

        // What several test targets share: the one `Prerequisite` rule and the one Fashion-MNIST fixture.
        .target(name: "AviaryTestSupport", dependencies: ["AviaryData"], path: "Tests/AviaryTestSupport"),

        .testTarget(name: "AviaryMathTests", dependencies: ["AviaryMath", "CZlib"]),
        .testTarget(name: "AviaryNNTests", dependencies: ["AviaryNN", "AviaryData", "AviaryMath", "AviaryTestSupport"]),
        .testTarget(name: "AviaryDataTests", dependencies: ["AviaryData", "AviaryMath", "AviaryTestSupport"]),
        .testTarget(name: "AviaryAdversarialTests", dependencies: ["AviaryAdversarial", "AviaryNN", "AviaryData", "AviaryMath", "AviaryTestSupport"]),
        .testTarget(name: "AviaryMergeTests", dependencies: ["AviaryMerge", "AviaryMath"]),
        .testTarget(name: "AviaryPrivacyTests", dependencies: ["AviaryPrivacy", "AviaryMerge", "AviaryMath"]),
        .testTarget(name: "AviarySecAggTests", dependencies: ["AviarySecAgg", "AviaryMath"]),
        .testTarget(name: "AviaryProtocolTests", dependencies: ["AviaryProtocol", "AviaryMath", "AviarySecAgg"]),
        .testTarget(name: "AviaryClientTests", dependencies: [
            "AviaryClient", "AviaryProtocol", "AviaryTransport", "AviaryTopology", "AviaryData", "AviaryNN", "AviaryLog", "AviaryPrivacy",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "AviaryTopologyTests", dependencies: ["AviaryTopology", "AviaryMerge", "AviaryAdversarial", "AviaryNN", "AviaryData", "AviaryProtocol", "AviaryLog", "AviaryPrivacy", "AviarySecAgg"]),
        .testTarget(name: "AviaryLogTests", dependencies: ["AviaryLog", "AviaryMerge", "AviaryMath", "AviaryTestSupport"]),
        .testTarget(name: "AviaryServerTests", dependencies: [
            "AviaryServer", "AviaryTransport", "AviaryProtocol", "AviaryTopology", "AviaryLog", "AviaryMerge", "AviaryPrivacy",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "AviaryReportTests", dependencies: ["AviaryReport", "AviaryLog", "AviaryData"]),
        .testTarget(name: "AviaryDashboardTests", dependencies: ["AviaryDashboard", "AviaryReport", "AviaryLog"]),
        .testTarget(name: "AviaryExportTests", dependencies: ["AviaryExport", "AviaryLog"]),
        .testTarget(name: "AviaryBenchTests", dependencies: ["AviaryBench"]),
        .testTarget(name: "AviaryTransportTests", dependencies: ["AviaryTransport", "AviaryProtocol", "CZmq"]),
        // The command layer's pure parts (option parsing, plans): no process is started.
        .testTarget(name: "AviaryCommandsTests", dependencies: ["AviaryCommands", "AviaryLog", "AviaryReport", "AviaryTopology"]),
        .testTarget(name: "AviaryIntegrationTests", dependencies: [
            "AviaryCommands", "AviaryReport", "AviaryLog", "AviaryMath", "AviaryServer", "AviaryTopology", "AviaryTransport", "AviaryProtocol", "AviaryTestSupport",
        ], exclude: ["Resources"]),  // scripts the tests run from the source tree
    ]
)
