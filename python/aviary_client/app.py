"""The user API: a client object with Flower's two methods over named NumPy arrays, and how
`--app module:function` is found. make_client(client_index, context) returns the client."""
import importlib
import os
import sys
from dataclasses import dataclass, field
from typing import Optional

from .run_spec import RunSpec


class Client:
    """What an app returns for each virtual client (duck typing is enough; this documents it).

    fit(parameters, config) -> (parameters, num_samples, metrics)
        parameters: dict name → np.ndarray in the run spec's tensor order (the round's global
        model); return the locally trained arrays (same names, shapes, dtypes), the number of
        samples trained on, and a dict of float metrics (MWA reads train_loss, adv_loss, ...).
    evaluate(parameters, config) -> (loss, num_samples, metrics)
        evaluate the given model on this client's held-out split (the evaluator: on the test set).
    """

    def fit(self, parameters, config):
        raise NotImplementedError("this client does not train (fit is not implemented)")

    def evaluate(self, parameters, config):
        raise NotImplementedError("this client does not evaluate (evaluate is not implemented)")


@dataclass
class Context:
    """What make_client gets besides the client index."""
    client_index: int
    run_spec: RunSpec
    role: str = "trainer"  # or "evaluator" (client_index -1)
    state_dir: Optional[str] = None
    extra: dict = field(default_factory=dict)


class AppError(ValueError):
    pass


def load_app(text):
    """The callable named by "module:function" (the current directory is importable, as for
    `python -m`)."""
    module_name, sep, attr = text.partition(":")
    if not sep or not module_name or not attr:
        raise AppError(f"--app {text}: give module:function, e.g. --app mymodule:make_client")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise AppError(f"--app {text}: cannot import {module_name}: {e}") from None
    target = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise AppError(f"--app {text}: {module_name} has no attribute {attr}")
    if not callable(target):
        raise AppError(f"--app {text}: {attr} is not callable")
    return target
