"""One OS process hosting many virtual clients over ONE connection, as Swift's `ClientHost`:
this thread runs the socket loop (registration, heartbeats, reconnects, stop requests) while a
`Worker` thread runs the sampled clients' fit and evaluate one after another."""
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import zmq

from . import run_spec as run_spec_module
from .app import Context
from .codec_errors import CodecError
from .compressor import DeltaCompressor
from .messages import ROLE_EVALUATOR, EvalResult
from .residual_store import DirectoryResidualStore, MemoryResidualStore
from .state_machine import EVALUATOR_INDEX, ClientStateMachine, propose_tokens
from .transport import Connection, TransportError
from .worker import Worker

# The socket loop sleeps in zmq's poll for up to this long between ticks. The training thread
# wakes it at once when a result is ready (Worker.wake_fd), so this bounds only how late a
# heartbeat or a signal is noticed. Short polls cost training time: every wake-up takes the GIL
# from the training thread, whose many small torch calls each hand it over (at 5 ms the 2-process
# peer benchmark's rounds took 1.6 s, at 50 ms 0.8 s).
POLL_MS = 50
EXIT_FLUSH_MS = 2000


class HostError(Exception):
    """Why the process stops without the server's SHUTDOWN (exit code 1)."""


def stderr_log(level, text):
    sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {level} aviary.client: {text}\n")
    sys.stderr.flush()


@dataclass
class HostOptions:
    endpoint: str
    indices: List[Optional[int]]
    name: str
    role: int = 0
    server_timeout: float = 120.0
    curve: object = None
    state_dir: Optional[str] = None
    should_stop: Callable[[], bool] = lambda: False
    connect: Optional[Callable] = None  # (endpoint, curve) -> connection; tests pass fakes
    clock: Callable[[], float] = time.monotonic
    extra: dict = field(default_factory=dict)


class Host:
    def __init__(self, options, make_client, log=stderr_log):
        self.options = options
        self.make_client_fn = make_client
        self.log = log
        claims = [] if options.role == ROLE_EVALUATOR else options.indices
        self.machine = ClientStateMachine(options.name, claims, role=options.role,
                                          server_timeout=options.server_timeout,
                                          jitter_seed=(hash((time.time_ns(), id(self))) & 0xFFFFFFFF) or 1,
                                          claim_tokens=propose_tokens(claims))
        self.worker = Worker(self._client, log)
        self.connection = None
        self.model = None
        self.sent_this_round = []
        self.exit_error = None
        self.spec = None
        self.clients = {}

    def _client(self, index):
        c = self.clients.get(index)
        if c is None:
            role = "evaluator" if index == EVALUATOR_INDEX else "trainer"
            c = self.make_client_fn(index, Context(index, self.spec, role, self.options.state_dir, self.options.extra))
            self.clients[index] = c
        return c

    def _connect(self):
        make = self.options.connect or Connection
        connection = make(self.options.endpoint, self.options.curve)
        watch = getattr(connection, "watch", None)  # the tests' in-memory twin has none
        if watch is not None:
            watch(self.worker.wake_fd)
        return connection

    def run(self):
        """Returns when the server shut the run down; raises HostError otherwise."""
        self.connection = self._connect()
        try:
            self._perform(self.machine.start(self.options.clock()))
            while not self.machine.is_done:
                if self.options.should_stop():
                    try:
                        self._perform(self.machine.stop("interrupted by a signal"))
                    except Exception:
                        pass
                    raise HostError("interrupted by a signal")
                try:
                    received = self.connection.receive(POLL_MS)
                except TransportError as e:
                    raise HostError(str(e)) from None
                if isinstance(received, CodecError):
                    if received.category == "unsupportedVersion":
                        raise HostError(f"the server's answer was refused: {received}")
                    self.log("warning", f"malformed message from server dropped: {received}")
                elif received is not None:
                    self._perform(self.machine.receive(received, self.options.clock()))
                for result in self.worker.take_results():
                    self._deliver(result)
                self._perform(self.machine.tick(self.options.clock()))
            if self.exit_error:
                raise HostError(self.exit_error)
        finally:
            self.worker.stop()
            if self.connection is not None:
                self.connection.close(EXIT_FLUSH_MS)

    def _deliver(self, result):
        now = self.options.clock()
        if result[0] == "update":
            update, seconds = result[1], result[2]
            loss = update.metrics.get("train_loss", update.metrics.get("adv_loss", float("nan")))
            self.log("info", f"trained client={update.client_index} round={update.round} loss={loss:.4f} seconds={seconds:.3f}")
            if self.model is not None and update.round == self.model.round:
                self.sent_this_round.append(update)
            self._perform(self.machine.trained(update, now))
        elif result[0] == "failure":
            _, round_, client, reason = result
            self.log("error", f"training failed client={client} round={round_} error={reason}")
            self._perform(self.machine.failed(round_, client, reason, now))
        else:
            r = result[1]
            if r.error:
                self.log("error", f"evaluation failed client={r.client_index} round={r.round} error={r.error}")
            else:
                self.log("info", f"evaluated client={r.client_index} round={r.round} loss={r.metrics.get('loss', float('nan')):.4f}")
            self._perform(self.machine.evaluated(r, now))

    def _perform(self, actions):
        for action in actions:
            kind = action[0]
            if kind == "send":
                try:
                    self.connection.send(action[1])
                except zmq.ZMQError as e:
                    self.log("warning", f"send failed kind={action[1].kind.name} error={e}")
            elif kind == "configure":
                self._configure(self._parse(action[1]))
            elif kind == "hosted":
                _, accepted, refused = action
                if accepted:
                    self.log("info", f"registered clients={','.join(map(str, accepted))}")
                for r in refused:
                    self.log("warning", f"claims refused claims={r} retry={r.retry}")
            elif kind == "model":
                m = action[1]
                if self.model is None or m.round != self.model.round:
                    self.sent_this_round = []
                self.model = m
            elif kind in ("train", "evaluate"):
                self._enqueue(kind, action[1])
            elif kind == "reconnect":
                self.log("warning", f"reconnecting reason={action[1]}")
                self.connection.close(0)
                self.connection = self._connect()
            elif kind == "reregistered":
                self._adopt(self._parse(action[1]))
                self.log("info", f"registered again resending={len(self.sent_this_round)}")
                for update in list(self.sent_this_round):
                    self._perform(self.machine.trained(update, self.options.clock()))
            elif kind == "exit":
                _, success, reason = action
                if success:
                    self.log("info", f"finished reason={reason}")
                else:
                    self.exit_error = reason

    def _enqueue(self, kind, message):
        now = self.options.clock()
        if self.model is None or self.model.round != message.round:
            what = "TRAIN" if kind == "train" else "EVALUATE"
            reason = f"{what} for round {message.round} arrived without its MODEL"
            for c in message.clients:
                if kind == "train":
                    self._perform(self.machine.failed(message.round, c, reason, now))
                else:
                    self._perform(self.machine.evaluated(EvalResult(message.round, c, 0, 0, {}, reason), now))
            return
        self.worker.enqueue(kind, message.clients, self.model, message.config)

    def _parse(self, data):
        try:
            return run_spec_module.parse(data)
        except run_spec_module.RunSpecError as e:
            raise HostError(f"the server's run spec cannot be used: {e}") from None

    def _configure(self, spec):
        clients = spec.clients
        if clients is not None and self.options.role != ROLE_EVALUATOR:
            outside = [i for i in self.options.indices if i is not None and i >= clients]
            if outside:
                raise HostError(f"client {outside[0]}: the topology has clients 0..<{clients}")
        self.spec = spec
        self.clients = {}
        self.worker.configure(spec.tensors, DeltaCompressor.for_spec(spec, self._store(spec)),
                              set(self.machine.hosted_clients), spec.privacy)

    def _adopt(self, spec):
        if self.spec is not None and spec.run_id == self.spec.run_id:
            self.spec = spec
            self.worker.adopt(spec.resumes)
        else:
            self.log("warning", f"the server is running another run now; configuring for it run={spec.run_id}")
            self._configure(spec)

    def _store(self, spec):
        if not spec.encoding.uses_error_feedback(spec.error_feedback):
            return MemoryResidualStore()
        if self.options.state_dir and spec.run_id:
            store = DirectoryResidualStore(self.options.state_dir, spec.run_id)
            self.log("info", f"error-feedback residuals on disk directory={store.root}")
            return store
        self.log("warning", "error feedback keeps residuals in memory: a restarted process starts its clients from "
                            "zero; give --state-dir DIR to keep them on disk")
        return MemoryResidualStore()
