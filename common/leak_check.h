/* leak_check.h -- tell LeakSanitizer which allocations are not ours.
 *
 * Open MPI keeps thousands of allocations from MPI_Init until exit (its
 * runtime's tables, PMIx, loaded components) and frees few of them in
 * MPI_Finalize.  Left to the leak check at a rank's exit, each is matched
 * against the suppressions (tests/sanitizer/lsan.supp), which needs its
 * stack symbolized: about two seconds of CPU per rank exit, most of it
 * rereading /proc/self/maps.  Allocations made between
 * leak_check_pause() and leak_check_resume() are never reported, yet
 * still scanned for pointers to ours, so a leak of ember's own stays a
 * leak.  Without LeakSanitizer both are no-ops. */
#ifndef EMBER_COMMON_LEAK_CHECK_H
#define EMBER_COMMON_LEAK_CHECK_H

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define EMBER_LEAK_CHECK 1
#endif
#elif defined(__SANITIZE_ADDRESS__)
#define EMBER_LEAK_CHECK 1
#endif

#ifdef EMBER_LEAK_CHECK
#include <sanitizer/lsan_interface.h>
static inline void leak_check_pause(void) { __lsan_disable(); }
static inline void leak_check_resume(void) { __lsan_enable(); }
#else
static inline void leak_check_pause(void) {}
static inline void leak_check_resume(void) {}
#endif

#endif
