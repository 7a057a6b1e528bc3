// The git commit an executable was built from.
//
// Why a header: `make build` writes build_commit.h (git-ignored) from `git describe`, and
// `__has_include` falls back to "unknown" when it is absent, so a clean clone, `swift build`
// without make, and CI all build; nothing is ever hard-coded. (A generated Swift file could
// not have a fallback: SwiftPM compiles the files that exist, and a missing one breaks the build.)
#if __has_include("build_commit.h")
#include "build_commit.h"
#endif
#ifndef AVIARY_BUILD_COMMIT
#define AVIARY_BUILD_COMMIT "unknown (built without make)"
#endif

static inline const char *aviary_build_commit(void) { return AVIARY_BUILD_COMMIT; }
