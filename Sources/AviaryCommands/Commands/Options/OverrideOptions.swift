import ArgumentParser

/// `--set key.path=value`, shared by `aviary run` and `aviary-server` (docs/TOPOLOGY.md).
struct OverrideOptions: ParsableArguments {
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a topology key, validated like the file (repeatable), e.g. --set merge.penalty=0.5.",
                                                         valueName: "key.path=value"))
    var overrides: [String] = []
}
