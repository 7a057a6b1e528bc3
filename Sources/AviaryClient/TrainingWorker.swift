import Foundation
import AviaryProtocol
import AviaryTopology

/// The thread that trains a process's sampled clients, one after another, so the socket loop
/// never blocks on training (it keeps heartbeats flowing and notices stop requests at once).
///
/// `@unchecked Sendable`: every mutable field is guarded by `condition`; `training` is set once
/// before the first job and used only by the worker thread afterwards.
final class TrainingWorker: @unchecked Sendable {
    struct Job {
        var client: Int
        var model: ModelMessage
        var config: [String: Double]
        /// Evaluate `model` on the client's held-out split (EVALUATE) instead of training.
        var evaluate = false
    }

    struct Result {
        var client: Int
        var round: Int
        var outcome: Swift.Result<UpdateMessage, ClientError>
        var seconds: Double
    }

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var results: [Result] = []
    private var evaluations: [EvalResultMessage] = []
    private var training: LocalTraining?
    private var compressor: DeltaCompressor?
    /// A later WELCOME's spec of the same run, for the compressor (applied on the worker thread).
    private var adoptedSpec: RunSpec?
    /// The clients this process hosts, whose residual files from an earlier process the new
    /// compressor takes over (on the worker thread, before its first job).
    private var storedToAdopt: Set<Int>?
    /// How many resumes the latest run spec listed (guarded by `condition`, like `adoptedSpec`).
    private var generation = 0
    /// Residual deletions that failed (harmless; the host logs them).
    private var warnings: [String] = []
    private var stopping = false
    private var thread: Thread?

    /// Gives the worker what it trains with for a run new to this process, with where that
    /// run's error-feedback residuals go and the clients whose earlier files it takes over, and
    /// starts its thread.
    func configure(_ training: LocalTraining, residuals: ResidualStore, hosted: Set<Int>) {
        condition.withLock {
            self.training = training
            generation = training.spec.resumes.count
            compressor = DeltaCompressor(spec: training.spec, store: residuals)
            storedToAdopt = hosted
            adoptedSpec = nil
        }
        guard thread == nil else { return }
        let t = Thread { [self] in loop() }
        t.name = "aviary-training"
        t.stackSize = 8 << 20
        thread = t
        t.start()
    }

    /// A later WELCOME of the same run: its resume history reaches the compressor before the
    /// next job. After a resume, TRAINs still queued from the old server's rounds are dropped:
    /// the resumed server sends its own, and training them under the new history could leave
    /// residuals of rounds the replay does not repeat.
    func adopt(_ spec: RunSpec) {
        condition.withLock {
            adoptedSpec = spec
            if spec.resumes.count > generation { jobs.removeAll() }
            generation = spec.resumes.count
        }
    }

    func enqueue(_ new: [Job]) {
        condition.withLock {
            jobs += new
            condition.signal()
        }
    }

    /// Results finished since the last call, in the order they finished.
    func takeResults() -> [Result] {
        condition.withLock {
            defer { results = [] }
            return results
        }
    }

    /// EVAL_RESULTs finished since the last call (token unset), in the order they finished.
    func takeEvaluations() -> [EvalResultMessage] {
        condition.withLock {
            defer { evaluations = [] }
            return evaluations
        }
    }

    /// Warnings since the last call (residual files that could not be deleted).
    func takeWarnings() -> [String] {
        condition.withLock {
            defer { warnings = [] }
            return warnings
        }
    }

    /// Asks the thread to exit after its current job (it is not waited for).
    func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if stopping { condition.unlock(); return }
            let training = self.training!
            if jobs[0].evaluate {
                // Evaluations touch no residual and no attack: answered one by one.
                let job = jobs.removeFirst()
                condition.unlock()
                let result = training.evaluate(client: job.client, model: job.model, config: job.config)
                condition.withLock { evaluations.append(result) }
                continue
            }
            let compressor = self.compressor!
            if let spec = adoptedSpec { compressor.adopt(spec); adoptedSpec = nil }
            let adopting = storedToAdopt
            storedToAdopt = nil
            // Colluding attackers (ALIE, IPM) need every one of their honest deltas of the round
            // before any is sent: they take the round's queued jobs as one group.
            var group = [jobs.removeFirst()]
            if training.attack?.isCollusive == true {
                while let next = jobs.first, !next.evaluate, next.model.round == group[0].model.round { group.append(jobs.removeFirst()) }
            }
            condition.unlock()
            var pruning: [String] = []
            if let adopting {
                do { try compressor.adoptStored(hosted: adopting) } catch { pruning.append("\(error)") }
            }
            pruning += compressor.modelArrived(round: group[0].model.round).map { "\($0)" }

            var done: [Result] = []
            var fresh: [Int] = []  // entries of `done` that trained
            for job in group {
                let started = ContinuousClock.now
                let outcome: Swift.Result<UpdateMessage, ClientError>
                do {
                    outcome = .success(try training.train(client: job.client, model: job.model, config: job.config))
                    fresh.append(done.count)
                } catch {
                    outcome = .failure(error)
                }
                let d = ContinuousClock.now - started
                done.append(Result(client: job.client, round: job.model.round, outcome: outcome,
                                   seconds: Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18))
            }
            // The attack (identity for honest clients), then the run's encoding, on this thread:
            // an attacker's crafted delta is encoded like any other client's.
            let honest = fresh.map { try! done[$0].outcome.get() }
            var sent = training.malicious(honest).makeIterator()
            for i in fresh {
                let update = sent.next()!
                do { done[i].outcome = .success(try compressor.encode(update)) } catch {
                    done[i].outcome = .failure(.errorFeedback(client: update.clientIndex, round: update.round, error))
                }
            }
            condition.withLock {
                results += done
                warnings += pruning
            }
        }
    }
}
