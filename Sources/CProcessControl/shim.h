// prctl is variadic, which Swift cannot call; this fixed-argument wrapper can.
#ifdef __linux__
#include <sys/prctl.h>
#endif

/// Asks the kernel to send `sig` to this process when the thread that started it exits.
/// Returns 0 on success, -1 where unsupported (not Linux) or on error.
static inline int aviary_set_parent_death_signal(int sig) {
#ifdef __linux__
    return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0UL, 0UL, 0UL);
#else
    (void)sig;
    return -1;
#endif
}
