"""The Python client's protocol logic without sockets (python/aviary_client/state_machine.py):
tokens proposed from the system's random source and kept across retries, heartbeats,
Paranoid-Pirate reconnects with back-off, RESET, SHUTDOWN → BYE, refusals, the evaluator role."""
import numpy as np

from aviary_client.messages import (Bye, Claim, Evaluate, Heartbeat, Hello, Model, Refused, Reject, Reset, Shutdown,
                                    Train, Update, Welcome)
from aviary_client.messages import F32Payload
from aviary_client.state_machine import Backoff, ClientStateMachine, propose_tokens

SPEC = b'{"tensors": []}'


def sends(actions):
    return [a[1] for a in actions if a[0] == "send"]


def welcome(accepted, refused=(), interval=2.0, liveness=3):
    return Welcome(list(accepted), list(refused), interval, liveness, SPEC)


def test_proposed_tokens_are_random_nonzero_and_distinct():
    a, b = propose_tokens([0, 1, 2]), propose_tokens([0, 1, 2])
    assert all(t != 0 for t in a.values()) and a != b
    assert propose_tokens([None, None]) == {}


def test_first_hello_proposes_tokens_and_retries_present_the_same_ones():
    m = ClientStateMachine("p", [0, 2], claim_tokens={0: 11, 2: 22})
    hello = sends(m.start(0.0))[0]
    assert isinstance(hello, Hello) and hello.role == 0
    assert [(c.index, c.token) for c in hello.claims] == [(0, 11), (2, 22)]
    actions = m.tick(60.0)  # no WELCOME for longer than the back-off: a new connection, same tokens
    assert actions[0][0] == "reconnect"
    assert [(c.index, c.token) for c in sends(actions)[0].claims] == [(0, 11), (2, 22)]


def test_retry_is_never_sooner_than_the_liveness_window():
    m = ClientStateMachine("p", [0], backoff=Backoff(initial=0.01, maximum=0.02))
    m.start(0.0)
    assert m.tick(5.9) == [] or all(a[0] != "reconnect" for a in m.tick(5.9))
    assert m.tick(6.1)[0][0] == "reconnect"


def test_welcome_configures_once_and_heartbeats_flow_when_idle():
    m = ClientStateMachine("p", [0, 1], claim_tokens={0: 5, 1: 6})
    m.start(0.0)
    actions = m.receive(welcome([(0, 5), (1, 6)]), 0.1)
    assert ("configure", SPEC) in actions and m.hosted_clients == [0, 1]
    assert m.tick(1.0) == []
    assert sends(m.tick(2.2)) == [Heartbeat()]


def test_updates_and_failures_carry_the_clients_token():
    m = ClientStateMachine("p", [3], claim_tokens={3: 77})
    m.start(0.0)
    m.receive(welcome([(3, 77)]), 0.0)
    assert m.receive(Model(1, np.zeros(2, np.float32)), 0.1)[0][0] == "model"
    train = m.receive(Train(1, [3, 4], {"lr": 0.1}), 0.1)
    assert train[0][1].clients == [3]  # clients of other processes are not ours
    u = sends(m.trained(Update(1, 3, 0, 10, {}, F32Payload(np.zeros(2, np.float32))), 0.2))[0]
    assert u.token == 77
    f = sends(m.failed(1, 3, "boom", 0.3))[0]
    assert (f.token, f.reason) == (77, "boom")


def test_silent_server_means_reconnect_with_the_held_tokens():
    m = ClientStateMachine("p", [0], claim_tokens={0: 9})
    m.start(0.0)
    m.receive(welcome([(0, 41)]), 0.0)  # the server may issue another token (a new registration)
    actions = m.tick(6.5)
    assert actions[0][0] == "reconnect"
    assert [(c.index, c.token) for c in sends(actions)[0].claims] == [(0, 41)]
    again = m.receive(welcome([(0, 41)]), 7.0)
    assert ("reregistered", SPEC) in again


def test_reset_registers_again_on_the_same_connection():
    m = ClientStateMachine("p", [0], claim_tokens={0: 9})
    m.start(0.0)
    m.receive(welcome([(0, 9)]), 0.0)
    actions = m.receive(Reset("unknown connection"), 1.0)
    assert [a[0] for a in actions] == ["send"] and sends(actions)[0].claims == [Claim(0, 9)]


def test_refused_for_now_keeps_the_token_and_asks_again():
    m = ClientStateMachine("p", [0, 1], claim_tokens={0: 5, 1: 6})
    m.start(0.0)
    actions = m.receive(welcome([(0, 5)], [Refused("held by another process", True, 1, [(1, 1)])]), 0.1)
    assert m.hosted_clients == [0] and m.claim_tokens == {1: 6}
    later = [a for t in (1.0, 2.0, 3.0, 5.0, 9.0) for a in m.tick(t)]
    hellos = [s for s in sends(later) if isinstance(s, Hello)]
    assert hellos and hellos[0].claims == [Claim(1, 6)]


def test_refused_for_good_exits_with_the_reason():
    m = ClientStateMachine("p", [5])
    m.start(0.0)
    actions = m.receive(welcome([], [Refused("outside 0..<4", False, 1, [(5, 5)])]), 0.1)
    assert actions[-1] == ("exit", False, "the server refused client 5: outside 0..<4")
    assert m.is_done


def test_reject_and_server_timeout_end_the_process():
    m = ClientStateMachine("p", [0])
    m.start(0.0)
    assert m.receive(Reject("protocol version 4 is not supported"), 1.0)[-1][0:2] == ("exit", False)
    m = ClientStateMachine("p", [0], server_timeout=10)
    m.start(0.0)
    exits = [a for t in range(0, 12) for a in m.tick(float(t)) if a[0] == "exit"]
    assert exits and "no answer from the server for 10 s" in exits[0][2]


def test_shutdown_says_bye_and_exits_successfully():
    m = ClientStateMachine("p", [2, 0], claim_tokens={2: 1, 0: 2})
    m.start(0.0)
    m.receive(welcome([(0, 2), (2, 1)]), 0.0)
    actions = m.receive(Shutdown("run complete"), 1.0)
    assert sends(actions) == [Bye([0, 2])] and actions[-1] == ("exit", True, "run complete")
    assert m.stop("signal") == []


def test_evaluator_claims_nothing_and_evaluates_as_index_minus_one():
    m = ClientStateMachine("ev", [], role=1)
    hello = sends(m.start(0.0))[0]
    assert hello.role == 1 and hello.claims == []
    actions = m.receive(welcome([(-1, 1234)]), 0.1)
    assert ("configure", SPEC) in actions
    m.receive(Model(3, np.zeros(1, np.float32)), 0.2)
    ev = m.receive(Evaluate(3, [], {}), 0.2)
    assert ev[0][0] == "evaluate" and ev[0][1].clients == [-1]
    assert m.receive(Train(3, [0], {}), 0.2) == []


def test_a_second_evaluator_is_refused_for_now_and_retries():
    m = ClientStateMachine("ev", [], role=1)
    m.start(0.0)
    m.receive(welcome([], [Refused("an evaluator is connected", True, 1, [])]), 0.1)
    assert not m.is_done and m.phase == "joining"
    actions = [a for t in (1.0, 3.0, 7.0, 12.0) for a in m.tick(t)]
    assert any(a[0] == "reconnect" for a in actions)
