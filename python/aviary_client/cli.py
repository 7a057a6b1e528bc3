"""`python -m aviary_client`: the trainer process (default), `evaluate` (the evaluator role),
and subcommands other modules add (`init-model`, from the torch adapter). Flag names are
aviary-client's where they mean the same, because `aviary run`'s [processes] launcher appends
them. Exit codes: 0 when the server ended the run, 1 on any other end, 64 for a bad command line."""
import argparse
import importlib
import os
import signal
import socket
import sys

from .app import AppError, load_app
from .client_set import UsageError, choose
from .curve_keys import KeyFileError, load as load_curve
from .host import Host, HostError, HostOptions
from .messages import ROLE_EVALUATOR, ROLE_TRAINER

EXIT_USAGE = 64

# Subcommands provided by other modules: name -> "module:function(argv) -> exit code".
PLUGINS = {"init-model": "aviary_client.init_model:main"}


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write(f"error: {message}\n")
        sys.exit(EXIT_USAGE)


def _parser(evaluator):
    p = _Parser(prog="python -m aviary_client" + (" evaluate" if evaluator else ""),
                description=("Run the evaluator: receive the global model on evaluation rounds and report test metrics."
                             if evaluator else "Run federated clients written in Python that connect to an Aviary server."))
    p.add_argument("--app", required=True, help="module:function; function(client_index, context) returns the client")
    p.add_argument("--connect", required=True, help="Server endpoint, e.g. tcp://10.0.0.5:5555.")
    if not evaluator:
        p.add_argument("--clients", help="Client indices to host: a list with ranges, e.g. 0,4,8 or 0-99,200.")
        p.add_argument("--shard", metavar="I/N", help="Host share I of N of the clients (indices ≡ I mod N); needs --of.")
        p.add_argument("--of", type=int, metavar="clients", help="The topology's client count, for --shard.")
        p.add_argument("--count", type=int, default=1, help="How many server-assigned clients to host.")
        p.add_argument("--exclude", help="Client indices to leave out of the --shard share.")
        p.add_argument("--state-dir", metavar="dir", help="Directory for error-feedback residuals, one subdirectory per run.")
    p.add_argument("--name", default=socket.gethostname(), help="Name shown in the server's log.")
    p.add_argument("--server-timeout", type=float, default=120.0, help="Seconds of server silence before giving up.")
    p.add_argument("--curve-secret", metavar="file", help="CURVE: this process's secret key file (aviary keygen).")
    p.add_argument("--server-public", metavar="file", help="CURVE: the server's public key file.")
    return p


def _die_with_launcher():
    """Started by `aviary run` (AVIARY_PARENT_PID set): ask Linux for SIGTERM when it dies."""
    text = os.environ.get("AVIARY_PARENT_PID")
    if not text or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        launcher = int(text)
        if os.getppid() != launcher:
            os.kill(launcher, 0)
    except ProcessLookupError:
        sys.stderr.write(f"error: the launcher (pid {text}) has already exited; not starting\n")
        sys.exit(1)
    except (OSError, ValueError, AttributeError):
        pass


def run(argv, evaluator=False):
    args = _parser(evaluator).parse_args(argv)
    try:
        if args.server_timeout <= 0 or args.server_timeout != args.server_timeout:
            raise UsageError(f"--server-timeout {args.server_timeout}: give a positive number of seconds, e.g. 120")
        if (args.curve_secret is None) != (args.server_public is None):
            raise UsageError("--curve-secret and --server-public go together: this process's secret key and the "
                             "server's public key")
        indices = [] if evaluator else choose(args.clients, args.shard, args.of, args.count, args.exclude)
    except UsageError as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_USAGE
    _die_with_launcher()
    try:
        make_client = load_app(args.app)
        curve = load_curve(args.curve_secret, args.server_public) if args.curve_secret else None
    except (AppError, KeyFileError) as e:
        sys.stderr.write(f"error: {e}\n")
        return 1
    stop = {"requested": False}

    def on_signal(signum, frame):
        stop["requested"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    options = HostOptions(endpoint=args.connect, indices=indices, name=args.name,
                          role=ROLE_EVALUATOR if evaluator else ROLE_TRAINER, server_timeout=args.server_timeout,
                          curve=curve, state_dir=None if evaluator else args.state_dir,
                          should_stop=lambda: stop["requested"])
    try:
        Host(options, make_client).run()
    except HostError as e:
        sys.stderr.write(f"error: {e}\n")
        return 1
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "evaluate":
        return run(argv[1:], evaluator=True)
    if argv and argv[0] in PLUGINS:
        module_name, _, attr = PLUGINS[argv[0]].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            sys.stderr.write(f"error: {argv[0]} is not available: {e}\n")
            return 1
        return getattr(module, attr)(argv[1:])
    return run(argv)
