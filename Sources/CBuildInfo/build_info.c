// The git commit an executable was built from.
//
// Why C: `make build` writes build_commit.h (git-ignored) from `git describe` and touches this
// file; `__has_include` falls back to "unknown" when the header is absent, so a clean clone,
// `swift build` without make, and CI all build, and nothing is ever hard-coded. A generated
// Swift file could not have a fallback (SwiftPM compiles the files that exist), and a
// header-only module is not rebuilt when the header changes; a C file is.
#include "build_info.h"

#if __has_include("build_commit.h")
#include "build_commit.h"
#endif
#ifndef AVIARY_BUILD_COMMIT
#define AVIARY_BUILD_COMMIT "unknown (built without make)"
#endif

const char *aviary_build_commit(void) { return AVIARY_BUILD_COMMIT; }
