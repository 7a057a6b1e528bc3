"""`python -m aviary_client init-model mymodule:make_model -o init.safetensors [--seed S]`:
writes the initial values of a torch module for `[model] kind = "external"`. Every state-dict
entry is written under its PyTorch name, in state-dict order: float tensors (parameters and
float buffers such as BatchNorm's running statistics) as F32, the tensors the federation
merges; integer buffers (BatchNorm's num_batches_tracked) as I64, which the server leaves out
of the model vector (each client keeps its own). `make_model()` runs after torch.manual_seed(S),
so the file is a function of the module's code and the seed."""
import argparse
import sys

EXIT_USAGE = 64


class InitModelError(ValueError):
    pass


def state_arrays(model):
    """name → numpy array of the module's state dict (floats as float32, integers as int64)."""
    import numpy as np
    import torch

    arrays = {}
    for name, value in model.state_dict().items():
        value = value.detach().cpu().contiguous()
        if torch.is_floating_point(value):
            arrays[name] = value.to(torch.float32).numpy().astype(np.float32, copy=True)
        elif value.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
            arrays[name] = value.to(torch.int64).numpy().astype(np.int64, copy=True)
        else:
            raise InitModelError(f"tensor '{name}' has dtype {value.dtype}; only float and integer tensors can be federated")
    if not any(a.dtype == np.float32 for a in arrays.values()):
        raise InitModelError("the module has no float tensor: nothing to federate")
    return arrays


def write(model, path, metadata=None):
    from safetensors.numpy import save_file

    arrays = state_arrays(model)
    save_file(arrays, path, metadata={k: str(v) for k, v in (metadata or {}).items()})
    return arrays


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m aviary_client init-model",
                                     description="Write a torch module's names, shapes and initial values as safetensors.")
    parser.add_argument("factory", metavar="module:function", help="A function returning a torch.nn.Module, e.g. mymodule:make_model.")
    parser.add_argument("-o", "--output", required=True, help="The safetensors file to write (e.g. init.safetensors).")
    parser.add_argument("--seed", type=int, default=0, help="torch.manual_seed before make_model() (default 0).")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        sys.stderr.write("error: init-model needs PyTorch (pip install torch, or Debian's python3-torch)\n")
        return 1
    from .app import AppError, load_app

    try:
        factory = load_app(args.factory)
    except AppError as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_USAGE
    torch.manual_seed(args.seed)
    model = factory()
    if not isinstance(model, torch.nn.Module):
        sys.stderr.write(f"error: {args.factory} returned {type(model).__name__}, not a torch.nn.Module\n")
        return 1
    try:
        arrays = write(model, args.output, {"source": args.factory, "seed": args.seed})
    except (InitModelError, OSError) as e:
        sys.stderr.write(f"error: {args.output}: {e}\n")
        return 1
    floats = sum(a.size for a in arrays.values() if a.dtype.kind == "f")
    print(f"wrote {args.output}: {len(arrays)} tensors, {floats:,} float values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
