// Intel ISA-L (Debian libisal-dev): its CRC-32 is zlib's (the reflected IEEE polynomial, the same
// values and the same chaining) with carry-less multiplication, ~20x zlib's table-driven crc32
// on these machines. Every frame, checkpoint and run-state file is checksummed with it.
#include <isa-l/crc.h>
