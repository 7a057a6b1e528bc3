"""Why a frame could not be decoded: one exception whose `category` is the Swift `CodecError`
case name and whose message names the field and byte offset, word for word as the Swift
client logs it (docs/PROTOCOL.md section 3)."""


class CodecError(Exception):
    """A frame that cannot be decoded. `category` is the case name ("crcMismatch", ...);
    `field` and `offset` say where, when the case has them."""

    def __init__(self, category, message, field=None, offset=None, **context):
        super().__init__(message)
        self.category = category
        self.field = field
        self.offset = offset
        self.context = context

    @classmethod
    def bad_magic(cls, found):
        hexed = " ".join(format(b, "x") for b in found)
        return cls("badMagic", f'not an Aviary frame: magic bytes are [{hexed}], expected "AVRY"; '
                   "check that the peer is an Aviary client/server", found=bytes(found))

    @classmethod
    def unsupported_version(cls, found, supported):
        return cls("unsupportedVersion", f"protocol version {found} is not supported (this build speaks {supported}); "
                   "run the same Aviary version on server and clients", found=found, supported=supported)

    @classmethod
    def unknown_kind(cls, kind, version):
        return cls("unknownKind", f"unknown message kind {kind} for protocol version {version}; the peer is newer or buggy",
                   kind=kind)

    @classmethod
    def unsupported_flags(cls, flags, version):
        return cls("unsupportedFlags", f"frame flags 0x{flags:x} are reserved and must be 0 in protocol version {version}",
                   flags=flags)

    @classmethod
    def truncated(cls, field, offset, needed, available):
        return cls("truncated", f"frame truncated in {field} at byte {offset}: needs {needed} bytes, {available} left",
                   field, offset, needed=needed, available=available)

    @classmethod
    def trailing_bytes(cls, offset, count):
        return cls("trailingBytes", f"{count} unexpected bytes after the message body at byte {offset}; "
                   "the peer encodes a different layout", None, offset, count=count)

    @classmethod
    def crc_mismatch(cls, in_frame, computed):
        return cls("crcMismatch", f"CRC-32 mismatch: frame says 0x{in_frame:x}, bytes give 0x{computed:x}; "
                   "the frame was corrupted in transit", in_frame=in_frame, computed=computed)

    @classmethod
    def negative_count(cls, field, offset, value):
        return cls("negativeCount", f"{field} at byte {offset} has negative length {value}", field, offset, value=value)

    @classmethod
    def string_too_long(cls, field, offset, length, limit):
        return cls("stringTooLong", f"{field} at byte {offset} is {length} bytes, more than the {limit}-byte limit for strings",
                   field, offset, length=length, limit=limit)

    @classmethod
    def blob_too_long(cls, field, offset, length, limit):
        return cls("blobTooLong", f"{field} at byte {offset} is {length} bytes, more than the {limit}-byte limit; "
                   "raise CodecLimits.maxBlobBytes if this is legitimate", field, offset, length=length, limit=limit)

    @classmethod
    def too_many_metrics(cls, field, offset, count, limit):
        return cls("tooManyMetrics", f"{field} at byte {offset} has {count} entries, more than the limit of {limit}",
                   field, offset, count=count, limit=limit)

    @classmethod
    def vector_too_long(cls, field, offset, count, limit):
        return cls("vectorTooLong", f"{field} at byte {offset} has {count} floats, more than the limit of {limit}; "
                   "raise CodecLimits.maxVectorCount for bigger models", field, offset, count=count, limit=limit)

    @classmethod
    def too_many_entries(cls, field, offset, count, limit):
        return cls("tooManyEntries", f"{field} at byte {offset} has {count} entries, more than the limit of {limit}",
                   field, offset, count=count, limit=limit)

    @classmethod
    def invalid_utf8(cls, field, offset):
        return cls("invalidUTF8", f"{field} at byte {offset} is not valid UTF-8", field, offset)

    @classmethod
    def invalid_optional_tag(cls, field, offset, tag):
        return cls("invalidOptionalTag", f"{field} at byte {offset} has presence tag {tag}, expected 0 (absent) or 1 (present)",
                   field, offset, tag=tag)

    @classmethod
    def duplicate_key(cls, field, offset, key):
        return cls("duplicateKey", f'{field} at byte {offset} repeats key "{key}"', field, offset, key=key)

    @classmethod
    def unexpected_frames(cls, count):
        return cls("unexpectedFrames", f"message arrived as {count} ZeroMQ frames, Aviary sends exactly one; "
                   "the peer is not an Aviary endpoint", count=count)

    @classmethod
    def unknown_encoding(cls, field, offset, tag):
        return cls("unknownEncoding", f"{field} at byte {offset} has encoding tag {tag}, "
                   "expected 0 (f32), 1 (f16), 2 (int8) or 3 (top-k)", field, offset, tag=tag)

    @classmethod
    def invalid_range(cls, field, offset, first, last):
        return cls("invalidRange", f"{field} at byte {offset} is the range {first}-{last}, whose first index is above its last",
                   field, offset, first=first, last=last)

    @classmethod
    def unknown_stage(cls, field, offset, stage):
        return cls("unknownStage", f"{field} at byte {offset} is stage {stage}, expected 1 (advertise keys) to 4 (unmasking)",
                   field, offset, stage=stage)

    @classmethod
    def unknown_role(cls, field, offset, role):
        return cls("unknownRole", f"{field} at byte {offset} is role {role}, expected 0 (trainer) or 1 (evaluator)",
                   field, offset, role=role)
