#include "helpdesk_build_info.h"

// Package.swift defines HELPDESK_BUILD_COMMIT as a bare hex token (no quotes to survive the build
// system's argument handling), so it is turned into a string here; HELPDESK_BUILD_DIRTY, set when the
// package was made from uncommitted content, adds "-dirty" (kept out of the token, which stays hex).
#define HELPDESK_STRING(token) #token
#define HELPDESK_EXPAND_STRING(token) HELPDESK_STRING(token)

const char *helpdesk_build_commit(void) {
#if defined(HELPDESK_BUILD_COMMIT) && defined(HELPDESK_BUILD_DIRTY)
    return HELPDESK_EXPAND_STRING(HELPDESK_BUILD_COMMIT) "-dirty";
#elif defined(HELPDESK_BUILD_COMMIT)
    return HELPDESK_EXPAND_STRING(HELPDESK_BUILD_COMMIT);
#else
    return "unknown";
#endif
}
