import Testing
@testable import AviaryCommands
import AviaryTopology

/// Which client processes `aviary run` starts and what each hosts (no process is started).
@Suite struct ClientProcessPlanTests {
    /// 10 clients in 2 processes, 3 of them attackers.
    static let topology = """
        [run]
        name = "byz"
        rounds = 8
        output = "/tmp"

        [data]
        dataset = "fashion-mnist"
        clients = 10
        partition = "iid"

        [model]
        kind = "mlp"
        hidden = [32]

        [processes]
        client_processes = 2

        [attackers]
        kind = "sign_flip"
        count = 3
        scale = 4
        """

    /// The launcher's processes: attackers leave the honest shares and get one process of their own.
    @Test func attackersGetTheirOwnProcess() throws {
        var t = try Topology.parse(Self.topology, file: "t.toml")
        t.attackers.clients = [1, 2, 3]
        let plans = ClientProcessPlan.plans(for: t)
        #expect(plans.map(\.clients) == [[0, 4, 6, 8], [5, 7, 9], [1, 2, 3]])
        #expect(plans[0].arguments == ["--shard", "0/2", "--of", "10", "--exclude", "2"])
        #expect(plans[1].arguments == ["--shard", "1/2", "--of", "10", "--exclude", "1,3"])
        #expect(plans[2].arguments == ["--clients", "1-3", "--byzantine", "sign_flip", "--byzantine-scale=4.0"])
        t.attackers.attack = .init(kind: .alie, alieZ: -0.5)
        #expect(ClientProcessPlan.plans(for: t)[2].arguments.suffix(1) == ["--byzantine-alie-z=-0.5"])
        t.attackers.attack = .init(kind: .ipm, ipmEpsilon: 0.1)
        #expect(ClientProcessPlan.plans(for: t)[2].arguments.suffix(3) == ["--byzantine", "ipm", "--byzantine-ipm-epsilon=0.1"])
        t.attackers.attack.kind = .none
        #expect(ClientProcessPlan.plans(for: t).map(\.arguments) == [["--shard", "0/2", "--of", "10"], ["--shard", "1/2", "--of", "10"]])
        #expect(ClientProcessPlan.list([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8")
    }
}
