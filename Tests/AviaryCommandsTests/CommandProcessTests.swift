import Testing
@testable import AviaryCommands
import AviaryTopology

/// `[processes] command`: processes that are not aviary-client get aviary-client's shares and flags.
@Suite struct CommandProcessTests {
    static func topology(_ processes: String) -> String {
        """
        [run]
        name = "py"
        [data]
        dataset = "fashion-mnist"
        clients = 10
        [model]
        kind = "mlp"
        [processes]
        \(processes)
        """
    }

    @Test func commandProcessesShareTheClientsAfterTheAviaryClientOnes() throws {
        let t = try Topology.parse(Self.topology("client_processes = 1\ncommand = [\"python3\", \"-m\", \"aviary_client\"]\ncount = 2"))
        #expect(t.processes.totalClientProcesses == 3)
        let plans = ClientProcessPlan.plans(for: t)
        #expect(plans.map(\.arguments) == [["--shard", "0/3", "--of", "10"], ["--shard", "1/3", "--of", "10"], ["--shard", "2/3", "--of", "10"]])
        #expect(plans.map(\.command) == [nil, ["python3", "-m", "aviary_client"], ["python3", "-m", "aviary_client"]])
        #expect(plans[1].clients == [1, 4, 7])
    }

    @Test func withACommandClientProcessesDefaultsToNone() throws {
        let t = try Topology.parse(Self.topology("command = [\"python3\", \"-m\", \"aviary_client\"]\ncount = 2"))
        #expect(t.processes.clientProcesses == 0 && t.processes.commandProcesses == 2)
        #expect(ClientProcessPlan.plans(for: t).allSatisfy { $0.command != nil })
    }

    @Test func badCommandsAndCountsAreRefusedNamingTheKey() {
        #expect { try Topology.parse(Self.topology("command = []")) } throws: { "\($0)".contains("processes.command") }
        #expect { try Topology.parse(Self.topology("command = [\"python3\"]\ncount = 11")) } throws: { "\($0)".contains("processes.count") }
        #expect { try Topology.parse(Self.topology("command = [\"python3\"]\nclient_processes = 5\ncount = 6")) } throws: { "\($0)".contains("processes.count") }
        #expect { try Topology.parse(Self.topology("command = \"python3\"")) } throws: { "\($0)".contains("processes.command") }
    }

    @Test func aBareCommandIsFoundOnPath() {
        #expect(ProcessLauncher.onPath("sh").hasSuffix("/sh"))
        #expect(ProcessLauncher.onPath("./relative/tool") == "./relative/tool")
        #expect(ProcessLauncher.onPath("no-such-tool-aviary") == "no-such-tool-aviary")
    }
}
