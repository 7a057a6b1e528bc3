import Testing
import AviaryProtocol

/// The rules that pick and delete top-k residual versions (docs/PROTOCOL.md §6).
struct ResidualHistoryTests {
    typealias V = ResidualHistory.Version
    func v(_ round: Int, _ generation: Int = 0) -> V { V(round: round, generation: generation) }

    @Test func aRoundUsesTheLatestVersionBeforeIt() {
        let h = ResidualHistory()
        #expect(h.residual(forRound: 1, stored: []) == nil)
        #expect(h.residual(forRound: 5, stored: [v(1), v(3)]) == v(3))
        // Training round 3 again (a re-sent TRAIN) uses what the first attempt used, not its own output.
        #expect(h.residual(forRound: 3, stored: [v(1), v(3)]) == v(1))
        #expect(h.residual(forRound: 1, stored: [v(1), v(3)]) == nil)
    }

    @Test func aResumeKillsLaterVersionsOfEarlierGenerationsOnly() {
        // Resumed after round 2: generation 0's rounds 3 and 4 are replayed; round 2 stands.
        let h = ResidualHistory(resumes: [2])
        #expect(h.generation == 1)
        #expect(!h.isDead(v(2, 0)) && h.isDead(v(3, 0)) && h.isDead(v(4, 0)))
        #expect(!h.isDead(v(3, 1)) && !h.isDead(v(9, 1)))
        #expect(h.residual(forRound: 5, stored: [v(2, 0), v(3, 0), v(4, 0)]) == v(2, 0))
        #expect(h.residual(forRound: 5, stored: [v(2, 0), v(4, 0), v(3, 1)]) == v(3, 1))
        // Two resumes: the second (after round 1) also kills generation 0's round 2 and generation 1's round 3.
        let twice = ResidualHistory(resumes: [2, 1])
        #expect(twice.isDead(v(2, 0)) && twice.isDead(v(3, 1)) && !twice.isDead(v(1, 0)) && !twice.isDead(v(5, 2)))
    }

    @Test func deletionKeepsWhatAResumeCouldNeed() {
        let h = ResidualHistory()
        // Saved through round 4: round 4 is the newest settled version (a replay of 5 or 6 needs
        // it), 5 and 6 may be replayed, 1 and 3 are never needed again.
        #expect(h.deletable(stored: [v(1), v(3), v(4), v(5), v(6)], saved: 4) == [v(1), v(3)])
        #expect(h.deletable(stored: [v(6)], saved: 4) == [])
        #expect(h.deletable(stored: [v(2)], saved: 4) == [])
        let resumed = ResidualHistory(resumes: [2])
        #expect(resumed.deletable(stored: [v(1, 0), v(2, 0), v(3, 0), v(3, 1)], saved: 1) == [v(3, 0)])
        #expect(ResidualHistory.savedRound(whenModelArrives: 7) == 5)
    }

    @Test func aMaxAgeDropsOldResiduals() {
        let h = ResidualHistory(maxAge: 3)
        #expect(h.residual(forRound: 5, stored: [v(2)]) == v(2))
        #expect(h.residual(forRound: 6, stored: [v(2)]) == nil)
        // Deleted once round saved + 1 can no longer use it.
        #expect(h.deletable(stored: [v(2)], saved: 4) == [])
        #expect(h.deletable(stored: [v(2)], saved: 5) == [v(2)])
        #expect(h.deletable(stored: [v(2), v(6)], saved: 5) == [v(2)])
    }

    /// Replaying a client's rounds through the rules: an uninterrupted run and one resumed
    /// after round r (with the replayed rounds' versions written again) use the same version
    /// chain in every round — the property resume relies on.
    @Test(arguments: [1, 2, 3, 4])
    func aResumedChainUsesTheSameResidualsAsTheUninterrupted(resumedAfter r: Int) {
        let trained = [1, 2, 4, 5, 7]  // rounds this client is sampled in
        func run(crashAt crash: Int?) -> [Int: Int?] {
            var stored: Set<V> = []
            var used: [Int: Int?] = [:]
            var h = ResidualHistory()
            var round = 1
            var crashed = false
            while round <= 8 {
                for d in h.deletable(stored: Array(stored), saved: ResidualHistory.savedRound(whenModelArrives: round)) { stored.remove(d) }
                if trained.contains(round) {
                    used.updateValue(h.residual(forRound: round, stored: Array(stored)).map(\.round), forKey: round)
                    stored.insert(V(round: round, generation: h.generation))
                }
                if let crash, !crashed, round == crash {
                    // The server dies after this round's tasks went out (the client trained
                    // it); it had saved round r and replays from r + 1.
                    crashed = true
                    h.resumes.append(r)
                    round = r + 1
                    continue
                }
                round += 1
            }
            return used
        }
        // The crash happens at most two rounds after the saved round (the server saves round
        // m − 1's state while round m's tasks are out).
        for crash in [r + 1, r + 2] {
            #expect(run(crashAt: crash) == run(crashAt: nil), "resumed after \(r), crashed in round \(crash)")
        }
    }
}
