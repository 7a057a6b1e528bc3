import Foundation
import AviaryProtocol
import AviarySecAgg

/// The thread that does a process's secure-aggregation work, so the socket loop never blocks
/// on it: weighing, clipping and quantising a trained update and drawing its keys (stage 1),
/// sharing keys (stage 2), opening the shares and masking the input with 1 + k PRG expansions
/// (stage 3), unmasking (stage 4); and, when no frame waits, deriving a client's pairwise-mask
/// seeds between its stages 2 and 3. Heartbeats keep flowing meanwhile, and in a run the masking
/// of one process overlaps the training and masking of the others.
///
/// Jobs run one at a time in the order they were queued, so each hosted client's stages see
/// their inputs in the order the socket loop received them, exactly as when they ran inline;
/// every answer is a deterministic function of those inputs and the client's secrets.
///
/// `@unchecked Sendable`: every mutable field is guarded by `condition`; the participation is
/// taken out of it by the worker thread while one job runs and put back afterwards.
final class SecAggWorker: @unchecked Sendable {
    enum Job {
        /// Training finished with this update (never sent in clear).
        case trained(UpdateMessage)
        /// A SECAGG frame for a hosted client.
        case received(SecAggMessage)
    }

    /// What one job produced, for the socket loop to send or report.
    struct Answer {
        var client: Int
        var round: Int
        var outcome: Result<[SecAggReplyMessage], SecAggParticipation.Problem>
        /// A problem before the keys went out is a FAILURE (the round must not wait for the
        /// client); later the client stays silent and the server drops it.
        var failOnError: Bool
    }

    private let condition = NSCondition()
    private var participation: SecAggParticipation?
    /// Bumped by `configure`: a job that ran on an older run's participation is discarded.
    private var generation = 0
    private var jobs: [Job] = []
    /// Work that only runs when `jobs` is empty: a client's pairwise-mask seeds, queued when its
    /// stage-2 answer is done. Stage 3 cannot start before every client in the round answered
    /// stage 2, so this process is otherwise idle then; a stage-3 frame that arrives first still
    /// goes first (its client derives what is missing), so the work never delays an answer.
    private var idleJobs: [(client: Int, round: Int)] = []
    private var answers: [Answer] = []
    private var stopping = false
    private var thread: Thread?

    /// The run's participation (nil: the run has no `[secagg]`). Jobs and answers of an earlier
    /// run are dropped.
    func configure(_ participation: SecAggParticipation?) {
        condition.withLock {
            self.participation = participation
            generation += 1
            jobs.removeAll()
            idleJobs.removeAll()
            answers.removeAll()
        }
        guard participation != nil, thread == nil else { return }
        let t = Thread { [self] in loop() }
        t.name = "aviary-secagg"
        t.stackSize = 8 << 20
        thread = t
        t.start()
    }

    func enqueue(_ job: Job) {
        condition.withLock {
            jobs.append(job)
            condition.signal()
        }
    }

    /// Answers finished since the last call, in the order their jobs were queued.
    func takeAnswers() -> [Answer] {
        condition.withLock {
            defer { answers = [] }
            return answers
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
            while ((jobs.isEmpty && idleJobs.isEmpty) || participation == nil) && !stopping { condition.wait() }
            if stopping { condition.unlock(); return }
            var working = participation!
            participation = nil  // the job's copy is the sole owner while it runs: no copy on write
            let ran = generation
            guard !jobs.isEmpty else {
                let idle = idleJobs.removeFirst()
                condition.unlock()
                working.prepareMaskSeeds(client: idle.client, round: idle.round)
                condition.withLock {
                    guard generation == ran else { return }
                    participation = working
                    if !jobs.isEmpty || !idleJobs.isEmpty { condition.signal() }
                }
                continue
            }
            let job = jobs.removeFirst()
            condition.unlock()

            let answer: Answer
            switch job {
            case let .trained(update):
                answer = Answer(client: update.clientIndex, round: update.round,
                                outcome: working.weight(of: update).flatMap { working.trained(update, weight: $0) },
                                failOnError: true)
            case let .received(message):
                answer = Answer(client: message.clientIndex, round: message.round, outcome: working.received(message),
                                failOnError: message.stage == SecAggBodyCodec.Stage.advertiseKeys.rawValue)
            }

            condition.withLock {
                guard generation == ran else { return }  // configured for another run meanwhile
                participation = working
                answers.append(answer)
                if case .received(let m) = job, m.stage == SecAggBodyCodec.Stage.shareKeys.rawValue, case .success = answer.outcome {
                    idleJobs.append((m.clientIndex, m.round))
                }
                if !jobs.isEmpty || !idleJobs.isEmpty { condition.signal() }
            }
        }
    }
}
