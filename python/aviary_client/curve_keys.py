"""CURVE key files as `aviary keygen` writes them (docs/PROTOCOL.md section 6):
`NAME.secret` (mode 0600) holds `public = "..."` and `secret = "..."`, `NAME.public` only the
public line; `#` lines are comments. The same refusals as the Swift client, naming the file."""
import os
import re
import stat
from dataclasses import dataclass

import zmq

Z85 = re.compile(r"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")


class KeyFileError(ValueError):
    pass


@dataclass(frozen=True)
class CurveKeys:
    """This process's key pair and the server's public key, Z85 text."""
    public_key: str
    secret_key: str
    server_public_key: str


def _fields(path, text):
    out = {}
    for n, raw in enumerate(text.split("\n")):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("=", 1)]
        if len(parts) != 2 or len(parts[1]) < 2 or not (parts[1].startswith('"') and parts[1].endswith('"')):
            raise KeyFileError(f'{path} is not an Aviary CURVE key file: line {n + 1} is not `name = "value"`')
        out[parts[0]] = parts[1][1:-1]
    return out


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8")
    except FileNotFoundError:
        raise KeyFileError(f"cannot read the key file {path}: no such file (aviary keygen writes key files)") from None
    except (OSError, UnicodeDecodeError):
        raise KeyFileError(f"cannot read the key file {path}: permission denied or not UTF-8") from None


def read_secret(path):
    """(public, secret) from a .secret file; refused when group or others may read it or when
    its public key does not belong to its secret key."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as e:
        raise KeyFileError(f"cannot read the key file {path}: {e.strerror}") from None
    if mode & 0o077:
        raise KeyFileError(f"the secret key file {path} is readable by group or others (mode {mode:o}); "
                           f"run `chmod 600 {path}`")
    f = _fields(path, _read(path))
    secret = f.get("secret")
    if secret is None or not Z85.match(secret):
        raise KeyFileError(f'{path} is not an Aviary CURVE key file: no `secret = "<40 Z85 characters>"` line '
                           "(is this a .public file?)")
    try:
        derived = zmq.curve_public(secret.encode("ascii")).decode("ascii")
    except zmq.ZMQError:
        raise KeyFileError(f"{path} is not an Aviary CURVE key file: the secret key is not a valid CURVE key") from None
    if "public" in f and f["public"] != derived:
        raise KeyFileError(f"{path} is not an Aviary CURVE key file: its public key does not belong to its secret key")
    return derived, secret


def read_public(path):
    """The public key of a .public file; a file holding a secret key is refused."""
    f = _fields(path, _read(path))
    if "secret" in f:
        raise KeyFileError(f"{path} holds a secret key; give the matching .public file "
                           "(a secret key never leaves its owner)")
    public = f.get("public")
    if public is None or not Z85.match(public):
        raise KeyFileError(f'{path} is not an Aviary CURVE key file: no `public = "<40 Z85 characters>"` line')
    return public


def load(secret_path, server_public_path):
    if not zmq.has("curve"):
        raise KeyFileError("this libzmq has no CURVE support (install a libzmq built with libsodium)")
    public, secret = read_secret(secret_path)
    return CurveKeys(public, secret, read_public(server_public_path))
