"""One client process's protocol logic as a value, as Swift's `ClientStateMachine`: events in
(messages, ticks, finished work), actions out; no sockets, so it is tested without I/O.

It registers the process's clients (HELLO until WELCOME), keeps their session tokens and the
token of every claim not accepted yet (presented on every retry), hands TRAIN and EVALUATE to
the host, stamps answers with tokens, sends heartbeats, and notices a silent server: it then
asks for a new connection and registers again with back-off (1 s doubling to 32 s, jittered,
never sooner than the liveness window), giving up after `server_timeout` seconds of silence.
An evaluator (role 1) claims nothing and is accepted as index -1."""
import secrets
from dataclasses import dataclass

from .messages import (ROLE_EVALUATOR, Bye, Claim, EvalResult, Evaluate, Failure, Heartbeat, Hello, Model, Reject,
                       Reset, Shutdown, Train, Update, Welcome)
from .random_stream import RandomStream

EVALUATOR_INDEX = -1


@dataclass(frozen=True)
class Liveness:
    heartbeat_interval: float = 2.0
    missed_heartbeats: int = 3

    @property
    def dead_after(self):
        return self.missed_heartbeats * self.heartbeat_interval


@dataclass(frozen=True)
class Backoff:
    initial: float = 1.0
    maximum: float = 32.0
    jitter: float = 0.25

    def delay(self, attempt, unit):
        base = min(self.maximum, self.initial * float(1 << min(attempt, 30)))
        return base * (1 - self.jitter + 2 * self.jitter * unit)


# Actions: tuples whose first element names them.
#   ("send", message) ("configure", run_spec_bytes) ("hosted", accepted, refused) ("model", Model)
#   ("train", Train) ("evaluate", Evaluate) ("reconnect", reason) ("reregistered", run_spec_bytes)
#   ("exit", success, reason)


def propose_tokens(indices):
    """A token per pinned claim from the system's random source (0 means none, so never 0)."""
    tokens = {}
    for i in indices:
        if i is not None and i not in tokens:
            t = 0
            while t == 0:
                t = secrets.randbits(64)
            tokens[i] = t
    return tokens


class ClientStateMachine:
    def __init__(self, process_name, claims, role=0, server_timeout=120.0, liveness=Liveness(), backoff=Backoff(),
                 jitter_seed=1, claim_tokens=None):
        self.process_name = process_name
        self.role = role
        self.server_timeout = server_timeout
        self.backoff = backoff
        self.liveness = liveness
        self.phase = "idle"  # idle, joining, ready, done
        self.attempt = 0
        self.join_retry_at = 0.0
        self.tokens = {}  # hosted index -> token
        self.pending = list(claims)
        self.claim_tokens = dict(claim_tokens if claim_tokens is not None else propose_tokens(claims))
        self.configured = False
        self.retry_at = None
        self.asked = set()
        self.last_heard = 0.0
        self.last_sent = 0.0
        self.jitter = RandomStream(jitter_seed, 10, 0xB0FF)
        self.evaluator_pending = role == ROLE_EVALUATOR

    @property
    def is_done(self):
        return self.phase == "done"

    @property
    def hosted_clients(self):
        return sorted(i for i in self.tokens if i != EVALUATOR_INDEX)

    def _pending_claims(self):
        return [Claim(i, self.claim_tokens.get(i, 0) if i is not None else 0) for i in self.pending]

    def start(self, now):
        self.last_heard = now
        return self._send_hello(0, now)

    def _send_hello(self, attempt, now):
        wait = max(self.liveness.dead_after, self.backoff.delay(attempt, self.jitter.next_double()))
        self.phase, self.attempt, self.join_retry_at = "joining", attempt, now + wait
        self.last_sent = now
        if self.role == ROLE_EVALUATOR:
            claims = []
        else:
            claims = [Claim(i, self.tokens[i]) for i in self.hosted_clients] + self._pending_claims()
        self.asked = {c.index for c in claims if c.index is not None}
        return [("send", Hello(self.process_name, claims, self.role))]

    def receive(self, message, now):
        self.last_heard = now
        if self.phase == "done":
            return []
        if isinstance(message, Welcome):
            return self._welcome(message, now)
        if isinstance(message, Reject):
            self.phase = "done"
            return [("exit", False, f"the server refused this process: {message.reason}")]
        if isinstance(message, Reset):
            return self._send_hello(0, now)
        if isinstance(message, Model):
            return [("model", message)] if self.phase == "ready" else []
        if isinstance(message, Train):
            if self.phase != "ready":
                return []
            mine = [c for c in message.clients if c in self.tokens and c != EVALUATOR_INDEX]
            return [("train", Train(message.round, mine, message.config))] if mine else []
        if isinstance(message, Evaluate):
            if self.phase != "ready":
                return []
            if self.role == ROLE_EVALUATOR:
                return [("evaluate", Evaluate(message.round, [EVALUATOR_INDEX], message.config))]
            mine = [c for c in message.clients if c in self.tokens]
            return [("evaluate", Evaluate(message.round, mine, message.config))] if mine else []
        if isinstance(message, Shutdown):
            self.phase = "done"
            actions = []
            if self.tokens:
                actions.append(("send", Bye(self.hosted_clients)))
            actions.append(("exit", True, message.reason))
            return actions
        return []  # heartbeats, and messages only a server receives

    def _welcome(self, w, now):
        if self.phase == "joining":
            attempt = self.attempt
        elif self.phase == "ready" and self.pending:
            attempt = 0
        else:
            return []  # a duplicate WELCOME
        self.liveness = Liveness(w.heartbeat_interval, w.liveness)
        if self.role == ROLE_EVALUATOR:
            return self._evaluator_welcome(w, attempt, now)
        pending_pinned = {i for i in self.pending if i is not None}
        assigned = len(self.pending) - len(pending_pinned)
        pinned = self.asked | pending_pinned
        accepted_new = []
        for index, token in w.accepted:
            was_hosted = index in self.tokens
            self.tokens[index] = token
            self.claim_tokens.pop(index, None)
            if index in pinned or was_hosted:
                pinned.discard(index)
                if not was_hosted:
                    accepted_new.append(index)
                continue
            accepted_new.append(index)
            assigned = max(0, assigned - 1)
        fatal = next((r for r in w.refused if not r.retry), None)
        if fatal is not None:
            self.phase = "done"
            for i in pinned:
                self.tokens.pop(i, None)
                self.claim_tokens.pop(i, None)
            return [("hosted", sorted(accepted_new), w.refused), ("exit", False, f"the server refused {fatal}")]
        for i in pinned:
            if i in self.tokens:
                self.claim_tokens[i] = self.tokens.pop(i)
        self.pending = sorted(pinned) + [None] * assigned
        return self._after_welcome(w, sorted(accepted_new), attempt, now)

    def _evaluator_welcome(self, w, attempt, now):
        accepted = [(i, t) for i, t in w.accepted if i == EVALUATOR_INDEX]
        if accepted:
            self.tokens[EVALUATOR_INDEX] = accepted[0][1]
            self.evaluator_pending = False
        fatal = next((r for r in w.refused if not r.retry), None)
        if fatal is not None and not accepted:
            self.phase = "done"
            return [("hosted", [], w.refused), ("exit", False, f"the server refused {fatal}")]
        self.pending = []
        return self._after_welcome(w, [EVALUATOR_INDEX] if accepted else [], attempt, now)

    def _after_welcome(self, w, accepted_new, attempt, now):
        actions = [("hosted", accepted_new, w.refused)]
        first = not self.configured
        if first and self.tokens:
            self.configured = True
            actions.append(("configure", w.run_spec))
        if self.tokens or (not self.pending and self.role != ROLE_EVALUATOR):
            self.phase = "ready"
            self.retry_at = None if not self.pending else now + self.backoff.delay(attempt, self.jitter.next_double())
            if not first:
                actions.append(("reregistered", w.run_spec))
        else:
            self.phase = "joining"
            self.attempt = attempt
            self.join_retry_at = now + self.backoff.delay(attempt, self.jitter.next_double())
        return actions

    def token_of(self, client):
        return self.tokens.get(client)

    def trained(self, update, now):
        token = self.tokens.get(update.client_index)
        if self.phase == "done" or token is None:
            return []
        update.token = token
        self.last_sent = now
        return [("send", update)]

    def failed(self, round_, client, reason, now):
        token = self.tokens.get(client)
        if self.phase == "done" or token is None:
            return []
        self.last_sent = now
        return [("send", Failure(round_, client, token, reason))]

    def evaluated(self, result, now):
        token = self.tokens.get(result.client_index)
        if self.phase == "done" or token is None:
            return []
        result.token = token
        self.last_sent = now
        return [("send", result)]

    def stop(self, reason):
        if self.phase == "done":
            return []
        self.phase = "done"
        actions = []
        if self.tokens:
            actions.append(("send", Bye(self.hosted_clients)))
        actions.append(("exit", False, reason))
        return actions

    def tick(self, now):
        silence = now - self.last_heard
        if self.phase in ("idle", "done"):
            return []
        if self.phase == "joining":
            if silence >= self.server_timeout:
                self.phase = "done"
                return [("exit", False, f"no answer from the server for {_seconds(self.server_timeout)} s (is it running, "
                                        "is the address right, and do both sides use CURVE or neither?)")]
            if now >= self.join_retry_at:
                return ([("reconnect", f"no WELCOME yet (attempt {self.attempt + 1})")]
                        + self._send_hello(self.attempt + 1, now))
            if self.tokens and now - self.last_sent >= self.liveness.heartbeat_interval:
                self.last_sent = now
                return [("send", Heartbeat())]
            return []
        if silence >= self.server_timeout:
            self.phase = "done"
            return [("exit", False, f"the server has been silent for {_seconds(self.server_timeout)} s; giving up")]
        if silence > self.liveness.dead_after:
            return ([("reconnect", f"the server has been silent for {_seconds(round(silence))} s")]
                    + self._send_hello(0, now))
        if self.retry_at is not None and now >= self.retry_at:
            self.retry_at = now + self.backoff.maximum
            self.last_sent = now
            claims = self._pending_claims()
            self.asked = {c.index for c in claims if c.index is not None}
            return [("send", Hello(self.process_name, claims, self.role))]
        if now - self.last_sent >= self.liveness.heartbeat_interval:
            self.last_sent = now
            return [("send", Heartbeat())]
        return []


def _seconds(s):
    return str(int(s)) if float(s).is_integer() else f"{s}"
