#!/usr/bin/env python3
"""Convert FedScale's client traces (Python pickles) to the JSON Aviary reads.

    tools/fedscale_traces_to_json.py device    client_device_capacity  device.json
    tools/fedscale_traces_to_json.py behaviour client_behave_trace     behaviour.json

device:    {id: {'computation': ms per sample, 'communication': kbit/s}}  ([system] device_capacity)
behaviour: {id: {'active': [s, ...], 'inactive': [s, ...], 'finish_time': s}}  ([system] behaviour_trace)

Exactly these fields are kept (others are dropped), ids become JSON keys, numbers plain floats;
nothing is rescaled. Unpickling runs code named in the file: convert only files you trust
(FedScale's own downloads). Standard library only.
"""
import json
import math
import pickle
import sys

FIELDS = {
    "device": ("computation", "communication"),
    "behaviour": ("active", "inactive", "finish_time"),
}


def plain(value, where):
    """A float or a list of floats from numbers, numpy scalars or sequences of them."""
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist") and not hasattr(value, "__float__"):
        items = value.tolist() if hasattr(value, "tolist") else value
        return [plain(v, where) for v in items]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SystemExit(f"{where}: {value!r} is not a number")
    if not math.isfinite(number):
        raise SystemExit(f"{where}: {number} is not finite")
    return number


def convert(kind, data, source):
    if not isinstance(data, dict) or not data:
        raise SystemExit(f"{source}: expected a non-empty dict of client id -> {{{', '.join(FIELDS[kind])}}}")
    out = {}
    for key, entry in data.items():
        try:
            ident = int(key)
        except (TypeError, ValueError):
            raise SystemExit(f"{source}: client id {key!r} is not an integer")
        if not isinstance(entry, dict):
            raise SystemExit(f"{source}: client {ident}: expected a dict, got {type(entry).__name__}")
        missing = [f for f in FIELDS[kind] if f not in entry]
        if missing:
            raise SystemExit(f"{source}: client {ident}: missing {', '.join(missing)}")
        out[str(ident)] = {f: plain(entry[f], f"{source}: client {ident}: {f}") for f in FIELDS[kind]}
    return out


def main(argv):
    if len(argv) != 4 or argv[1] not in FIELDS:
        raise SystemExit(__doc__)
    kind, source, target = argv[1:]
    with open(source, "rb") as f:
        data = pickle.load(f)
    out = convert(kind, data, source)
    with open(target, "w") as f:
        json.dump(out, f, sort_keys=True)
    print(f"{target}: {len(out)} clients ({kind})")


if __name__ == "__main__":
    main(sys.argv)
