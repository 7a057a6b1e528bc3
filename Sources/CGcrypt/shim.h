// libgcrypt (Debian libgcrypt20-dev): secure aggregation's mask PRG, AES-128-CTR. swift-crypto's
// AES._CTR gives the same keystream but only as a fresh zero-filled Data per call over BoringSSL's
// AES-NI loop; libgcrypt writes into a caller's buffer and runs CTR with VAES (AVX2) where the CPU
// has it (docs/ARCHITECTURE.md, "AviarySecAgg").
// Thin wrappers only: gcry_control is variadic (not callable from Swift) and the cipher and mode
// constants are macros and enums over plain ints.
#ifndef AVIARY_CGCRYPT_SHIM_H
#define AVIARY_CGCRYPT_SHIM_H
#include <gcrypt.h>
#include <stddef.h>

// Once per process, before any other libgcrypt call (MaskExpansion calls it from a Swift global's
// thread-safe initialiser). No secure memory: the keys it sees are the masks' seeds, which live in
// ordinary Swift arrays anyway. Returns the library's version string.
static inline const char *aviary_gcrypt_initialise(void) {
    const char *version = gcry_check_version(NULL);
    if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
        gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
        gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    }
    return version;
}

// An AES-128-CTR handle with its 16-byte key set.
static inline gcry_error_t aviary_aes128_ctr_open(gcry_cipher_hd_t *handle, const void *key) {
    gcry_error_t err = gcry_cipher_open(handle, GCRY_CIPHER_AES128, GCRY_CIPHER_MODE_CTR, 0);
    if (err) return err;
    err = gcry_cipher_setkey(*handle, key, 16);
    if (err) { gcry_cipher_close(*handle); *handle = NULL; }
    return err;
}

// `count` keystream bytes into `out` from the 16-byte counter block `counter` (incremented as
// one 128-bit big-endian integer): CTR over `count` bytes of `zeros`, which it only reads.
static inline gcry_error_t aviary_aes_ctr_keystream(gcry_cipher_hd_t handle, const unsigned char *counter,
                                                    const void *zeros, void *out, size_t count) {
    gcry_error_t err = gcry_cipher_setctr(handle, counter, 16);
    if (err) return err;
    return gcry_cipher_encrypt(handle, out, count, zeros, count);
}
#endif
