#ifndef AVIARY_BUILD_INFO_H
#define AVIARY_BUILD_INFO_H

/// The git commit this executable was built from, or "unknown (built without make)".
const char *aviary_build_commit(void);

#endif
