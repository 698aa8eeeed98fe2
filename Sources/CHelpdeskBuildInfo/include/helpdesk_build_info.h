#ifndef HELPDESK_BUILD_INFO_H
#define HELPDESK_BUILD_INFO_H

/// The git commit the binary was built from: HELPDESK_BUILD_COMMIT in the environment of
/// `swift build` (Package.swift passes it to this file as a define), ending in "-dirty" when
/// scripts/package was allowed to package uncommitted content, else "unknown".
const char *helpdesk_build_commit(void);

#endif
