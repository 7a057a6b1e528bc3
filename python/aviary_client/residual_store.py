"""Where a process keeps its clients' error-feedback residuals: files in `--state-dir` laid out
exactly as the Swift client's `DirectoryResidualStore`, or memory.

    <state-dir>/<run id>/client-000042/r0007-g1.safetensors

One safetensors file per version: tensor `residual` (F32, [n]), metadata client, round,
generation, run. The header is written byte for byte as Swift's writer does (metadata first,
keys sorted, compact JSON, space-padded to 8 bytes), so both clients write the same bytes for the
same residual; reading goes through the safetensors package."""
import os
import re

import numpy as np

from .residual_history import Version

_NAME = re.compile(r"^r(\d+)-g(\d+)\.safetensors$")


class ResidualStoreError(Exception):
    """A residual that cannot be read or written, naming the file and why."""

    @classmethod
    def unreadable(cls, path, reason):
        return cls(f"error-feedback residual {path} cannot be read: {reason}")

    @classmethod
    def unwritable(cls, path, reason):
        return cls(f"error-feedback residual {path} cannot be written: {reason}")

    @classmethod
    def mismatch(cls, path, field, expected, found):
        return cls(f"error-feedback residual {path} does not belong here: {field} is {found}, expected {expected}")


def json_string(s):
    """A JSON string literal with exactly the escapes Swift's safetensors writer uses."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def safetensors_bytes(name, values, metadata):
    """One F32 tensor as a safetensors file, with the Swift writer's exact header."""
    values = np.ascontiguousarray(values, dtype="<f4")
    entries = []
    if metadata:
        pairs = ",".join(f"{json_string(k)}:{json_string(metadata[k])}"
                         for k in sorted(metadata))
        entries.append(f'"__metadata__":{{{pairs}}}')
    entries.append(f'{json_string(name)}:{{"dtype":"F32","shape":[{values.size}],'
                   f'"data_offsets":[0,{4 * values.size}]}}')
    header = ("{" + ",".join(entries) + "}").encode("utf-8")
    header += b" " * ((8 - len(header) % 8) % 8)
    return len(header).to_bytes(8, "little") + header + values.tobytes()


def atomic_write(path, data):
    """path.tmp-<pid>, fsync, rename, fsync the directory: readers see the old or the new file."""
    temp = f"{path}.tmp-{os.getpid()}"
    with open(temp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(temp, path)
    try:
        fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


class DirectoryResidualStore:
    def __init__(self, state_directory, run_id):
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise ResidualStoreError.unwritable(state_directory, f"the run id '{run_id}' cannot name a directory")
        self.root = os.path.join(state_directory, run_id)
        self.run_id = run_id
        try:
            os.makedirs(self.root, exist_ok=True)
        except OSError as e:
            raise ResidualStoreError.unwritable(self.root, e.strerror or str(e)) from None

    def directory(self, client):
        return os.path.join(self.root, f"client-{client:06d}")

    def path(self, client, version):
        return os.path.join(self.directory(client), f"r{version.round:04d}-g{version.generation}.safetensors")

    def versions(self, client):
        d = self.directory(client)
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            return []
        except OSError as e:
            raise ResidualStoreError.unreadable(d, e.strerror or str(e)) from None
        found = []
        for name in names:
            m = _NAME.match(name)
            if m:
                found.append(Version(int(m.group(1)), int(m.group(2))))
            elif ".safetensors.tmp-" in name:
                try:  # a write interrupted by a kill never renamed its temp file
                    os.remove(os.path.join(d, name))
                except OSError:
                    pass
        return found

    def clients(self):
        try:
            names = os.listdir(self.root)
        except OSError as e:
            raise ResidualStoreError.unreadable(self.root, e.strerror or str(e)) from None
        return [int(n[len("client-"):]) for n in names if n.startswith("client-") and n[len("client-"):].isdigit()]

    def load(self, client, version, count):
        from safetensors import safe_open

        path = self.path(client, version)
        try:
            with safe_open(path, framework="numpy") as f:
                names = list(f.keys())
                metadata = f.metadata() or {}
                if names != ["residual"]:
                    raise ResidualStoreError.mismatch(path, "tensors", "[residual]", str(names))
                values = np.asarray(f.get_tensor("residual"), dtype=np.float32).reshape(-1)
        except ResidualStoreError:
            raise
        except Exception as e:  # the safetensors package raises several types for damaged files
            raise ResidualStoreError.unreadable(path, str(e)) from None
        expected = {"client": str(client), "round": str(version.round), "generation": str(version.generation),
                    "run": self.run_id}
        for key in sorted(expected):
            if metadata.get(key) != expected[key]:
                raise ResidualStoreError.mismatch(path, f"metadata.{key}", expected[key], metadata.get(key, "absent"))
        if values.size != count:
            raise ResidualStoreError.mismatch(path, "length", f"{count} (the model's parameters)", str(values.size))
        return values

    def save(self, client, version, residual):
        path = self.path(client, version)
        metadata = {"client": str(client), "round": str(version.round), "generation": str(version.generation),
                    "run": self.run_id}
        try:
            os.makedirs(self.directory(client), exist_ok=True)
            atomic_write(path, safetensors_bytes("residual", residual, metadata))
        except OSError as e:
            raise ResidualStoreError.unwritable(path, e.strerror or str(e)) from None

    def delete(self, client, version):
        path = self.path(client, version)
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise ResidualStoreError.unwritable(path, e.strerror or str(e)) from None
        try:  # the client's last version gone: its directory goes too
            os.rmdir(self.directory(client))
        except OSError:
            pass


class MemoryResidualStore:
    """The in-memory twin: the same versions as arrays, lost with the process."""

    def __init__(self):
        self.stored = {}

    def versions(self, client):
        return list(self.stored.get(client, {}))

    def clients(self):
        return list(self.stored)

    def load(self, client, version, count):
        r = self.stored.get(client, {}).get(version)
        where = f"memory: client {client} {version}"
        if r is None:
            raise ResidualStoreError.unreadable(where, "not stored")
        if r.size != count:
            raise ResidualStoreError.mismatch(where, "length", str(count), str(r.size))
        return r

    def save(self, client, version, residual):
        self.stored.setdefault(client, {})[version] = np.array(residual, dtype=np.float32)

    def delete(self, client, version):
        versions = self.stored.get(client, {})
        versions.pop(version, None)
        if not versions:
            self.stored.pop(client, None)
