"""Which clients a process hosts, as `aviary-client` reads them: `--clients 0-99,200`,
`--shard I/N --of C` (every i < C with i ≡ I mod N), or `--count K` server-assigned ones."""

MAX_HOSTED = 1 << 21  # the protocol's limit on claims in one HELLO


class UsageError(ValueError):
    """A bad command line (exit code 64, as aviary-client's)."""


def parse_ranges(text):
    """[(first, last)] of a list with ranges, e.g. "0,4,8" or "0-99,200"."""
    ranges = []
    for part in text.split(","):
        part = part.strip()
        first, sep, last = part.partition("-")
        try:
            a = int(first)
            b = int(last) if sep else a
        except ValueError:
            raise UsageError(f"'{part}' is not an index or a range like 0-9") from None
        if a < 0 or b < a:
            raise UsageError(f"'{part}' is not an index or a range like 0-9 (first ≤ last, both ≥ 0)")
        ranges.append((a, b))
    return ranges


def parse_list(text):
    out = []
    for a, b in parse_ranges(text):
        if len(out) + (b - a + 1) > MAX_HOSTED:
            raise UsageError(f"more than {MAX_HOSTED} clients (the protocol's limit on claims in one HELLO)")
        out.extend(range(a, b + 1))
    seen = set()
    for i in out:
        if i in seen:
            raise UsageError(f"client {i} is listed twice")
        seen.add(i)
    return out


def parse_shard(text):
    parts = text.split("/")
    try:
        i, n = int(parts[0]), int(parts[1])
        if len(parts) != 2:
            raise ValueError
    except (ValueError, IndexError):
        raise UsageError(f"--shard: '{text}' is not I/N; e.g. --shard 0/8 hosts clients 0, 8, 16, …") from None
    if n < 1:
        raise UsageError(f"--shard {text}: N must be at least 1")
    if not 0 <= i < n:
        raise UsageError(f"--shard {text}: I must be in 0..<{n} (0…{n - 1})")
    return i, n


def shard(i, n, total):
    return list(range(i, total, n))


def choose(clients=None, shard_text=None, of=None, count=1, exclude=None):
    """The claims (indices, or None for server-assigned ones) the flags ask for."""
    if clients is not None and shard_text is not None:
        raise UsageError("give either --clients or --shard, not both")
    if of is not None and shard_text is None:
        raise UsageError("--of only goes with --shard")
    if exclude is not None and shard_text is None:
        raise UsageError("--exclude only goes with --shard")
    if clients is not None:
        try:
            return parse_list(clients)
        except UsageError as e:
            raise UsageError(f"--clients: {e}") from None
    if shard_text is not None:
        i, n = parse_shard(shard_text)
        if of is None:
            raise UsageError(f"--shard needs --of <clients>, the topology's client count (e.g. --shard {shard_text} --of 1000)")
        if of < 1:
            raise UsageError(f"--of {of}: the topology has at least 1 client")
        if i >= of:
            raise UsageError(f"--shard {shard_text} --of {of}: share {i} is empty (clients are 0..<{of}); "
                             f"use at most {of} shares")
        indices = shard(i, n, of)
        if exclude is not None:
            try:
                excluded = parse_ranges(exclude)
            except UsageError as e:
                raise UsageError(f"--exclude: {e}") from None
            indices = [x for x in indices if not any(a <= x <= b for a, b in excluded)]
            if not indices:
                raise UsageError(f"--shard {shard_text} --of {of} --exclude leaves no client to host")
        if len(indices) > MAX_HOSTED:
            raise UsageError(f"--shard {shard_text} --of {of}: share {i} has {len(indices)} clients; one process hosts "
                             f"at most {MAX_HOSTED}; use more shares")
        return indices
    if count < 1:
        raise UsageError("--count must be at least 1")
    if count > MAX_HOSTED:
        raise UsageError(f"--count {count}: one process hosts at most {MAX_HOSTED} clients")
    return [None] * count
