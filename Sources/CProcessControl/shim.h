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

#include <errno.h>
#ifdef __linux__
#include <sched.h>
#endif

/// Puts thread `pid` (a process's main thread; the threads it starts later inherit the policy)
/// under SCHED_BATCH: CPU-bound work that never preempts another task when it wakes, and which
/// the scheduler mildly disfavours. No privilege needed. Returns 0, or -1 (errno set; -1 and
/// ENOSYS where unsupported).
static inline int aviary_set_batch_scheduling(int pid) {
#if defined(__linux__) && defined(SCHED_BATCH)
    struct sched_param p = { .sched_priority = 0 };
    return sched_setscheduler(pid, SCHED_BATCH, &p);
#elif defined(__linux__)
    struct sched_param p = { .sched_priority = 0 };
    return sched_setscheduler(pid, 3 /* SCHED_BATCH, hidden without _GNU_SOURCE */, &p);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/// The scheduling policy of thread `pid` (SCHED_OTHER 0, SCHED_BATCH 3, …), or -1.
static inline int aviary_scheduling_policy(int pid) {
#ifdef __linux__
    return sched_getscheduler(pid);
#else
    (void)pid;
    return -1;
#endif
}
