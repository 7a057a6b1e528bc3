"""The protocol's field types (docs/PROTOCOL.md section 2): a writer that appends them to a
bytearray and a reader that checks every length against the bytes left and the limits before
allocating, raising `CodecError` with the field name and byte offset, as Swift's WireReader."""
import struct
import zlib

import numpy as np

from .codec_errors import CodecError

_I64 = struct.Struct("<q")
_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")


class WireWriter:
    """Appends fields to `parts` (bytes-like chunks, joined once): a large array goes in as a
    view of its own memory, so a frame costs one copy of it (the join) plus the CRC pass."""

    def __init__(self):
        self.out = bytearray()  # the current run of small fields
        self.parts = [self.out]

    def frame(self):
        """The header, body and CRC-32 trailer as one bytes object."""
        crc = 0
        for p in self.parts:
            crc = zlib.crc32(p, crc)
        self.out += struct.pack("<I", crc & 0xFFFFFFFF)
        return b"".join(self.parts)

    def u8(self, v):
        self.out.append(v & 0xFF)

    def int(self, v):
        self.out += _I64.pack(v)

    def u64(self, v):
        self.out += _U64.pack(v)

    def f64(self, v):
        self.out += _F64.pack(v)

    def string(self, s):
        b = s.encode("utf-8")
        self.int(len(b))
        self.out += b

    def blob(self, b):
        self.int(len(b))
        self.out += b

    def optional_int(self, v):
        if v is None:
            self.u8(0)
        else:
            self.u8(1)
            self.int(v)

    def ints(self, values):
        self.int(len(values))
        for v in values:
            self.int(v)

    def metrics(self, m):
        """Keys sorted (by code point, Swift's String order for these keys), so equal maps give
        equal bytes."""
        self.int(len(m))
        for key in sorted(m):
            self.string(key)
            self.f64(float(m[key]))

    def array(self, values, dtype):
        """i64 count, then the elements little-endian, back to back (one copy)."""
        a = np.ascontiguousarray(values, dtype=dtype)
        self.int(a.size)
        if a.nbytes < 4096:
            self.out += a.tobytes()
        else:
            self.parts.append(memoryview(a).cast("B"))
            self.out = bytearray()
            self.parts.append(self.out)

    def floats(self, values):
        self.array(values, "<f4")


def _saturating(a, b):
    return min(a * b, (1 << 63) - 1)


class WireReader:
    def __init__(self, data, offset, end, limits):
        self.data = data  # a memoryview or bytes
        self.offset = offset
        self.end = end
        self.limits = limits

    @property
    def remaining(self):
        return self.end - self.offset

    def _take(self, n, field):
        if n > self.remaining:
            raise CodecError.truncated(field, self.offset, n, self.remaining)
        at = self.offset
        self.offset += n
        return at

    def u8(self, field):
        return self.data[self._take(1, field)]

    def i64(self, field):
        return _I64.unpack_from(self.data, self._take(8, field))[0]

    int = i64

    def u64(self, field):
        return _U64.unpack_from(self.data, self._take(8, field))[0]

    def f64(self, field):
        return _F64.unpack_from(self.data, self._take(8, field))[0]

    def _count(self, field):
        at = self.offset
        value = self.i64(field)
        if value < 0:
            raise CodecError.negative_count(field, at, value)
        return value, at

    def list_count(self, field, minimum_entry_bytes):
        n, at = self._count(field)
        if n > self.limits.max_list_entries:
            raise CodecError.too_many_entries(field, at, n, self.limits.max_list_entries)
        if n > self.remaining // minimum_entry_bytes:
            raise CodecError.truncated(field, self.offset, _saturating(n, minimum_entry_bytes), self.remaining)
        return n

    def ints(self, field):
        n = self.list_count(field, 8)
        at = self._take(8 * n, field)
        return np.frombuffer(self.data, dtype="<i8", count=n, offset=at).tolist() if n else []

    def string(self, field):
        length, at = self._count(field)
        if length > self.limits.max_string_bytes:
            raise CodecError.string_too_long(field, at, length, self.limits.max_string_bytes)
        start = self._take(length, field)
        try:
            return bytes(self.data[start:start + length]).decode("utf-8")
        except UnicodeDecodeError:
            raise CodecError.invalid_utf8(field, start) from None

    def blob(self, field):
        length, at = self._count(field)
        if length > self.limits.max_blob_bytes:
            raise CodecError.blob_too_long(field, at, length, self.limits.max_blob_bytes)
        start = self._take(length, field)
        return bytes(self.data[start:start + length])

    def optional_int(self, field):
        at = self.offset
        tag = self.u8(field)
        if tag == 0:
            return None
        if tag == 1:
            return self.int(field)
        raise CodecError.invalid_optional_tag(field, at, tag)

    def metrics(self, field):
        n, at = self._count(field)
        if n > self.limits.max_metrics:
            raise CodecError.too_many_metrics(field, at, n, self.limits.max_metrics)
        if n > self.remaining // 16:
            raise CodecError.truncated(field, self.offset, _saturating(n, 16), self.remaining)
        m = {}
        for _ in range(n):
            key_at = self.offset
            key = self.string(field + ".key")
            value = self.f64(f"{field}[{key}]")
            if key in m:
                raise CodecError.duplicate_key(field, key_at, key)
            m[key] = value
        return m

    def elements(self, field, dtype, element_bytes):
        """i64 count, then count × element_bytes bytes as a read-only array over the frame's own
        memory (no copy: a 46 MB MODEL is not copied again; the array keeps the frame alive)."""
        n, at = self._count(field)
        if n > self.limits.max_vector_count:
            raise CodecError.vector_too_long(field, at, n, self.limits.max_vector_count)
        if n > self.remaining // element_bytes:
            raise CodecError.truncated(field, self.offset, _saturating(n, element_bytes), self.remaining)
        start = self._take(n * element_bytes, field)
        if n == 0:
            return np.zeros(0, dtype=dtype)
        a = np.frombuffer(self.data, dtype=dtype, count=n, offset=start)
        a.flags.writeable = False
        return a

    def floats(self, field):
        return self.elements(field, "<f4", 4)
