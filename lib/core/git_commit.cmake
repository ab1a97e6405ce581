# Run at every build (not only at configure time), so the commit stamped into the binary, its checkpoints and its
# result tables is the one it was built from. "-dirty" marks uncommitted changes to tracked files. The output is
# rewritten only when it changes, so an unchanged commit recompiles nothing.
#   cmake -DSOURCE_DIR=... -DOUTPUT=.../git_commit.cpp -P git_commit.cmake
execute_process(COMMAND git describe --always --abbrev=12 --dirty=-dirty --exclude=*
                WORKING_DIRECTORY "${SOURCE_DIR}" OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT commit)
  set(commit unknown)
endif()
set(content "// Generated at build time by lib/core/git_commit.cmake.\n#include \"core/build_info.h\"\n\nconst char* convpt::git_commit() { return \"${commit}\"; }\n")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" previous)
endif()
if(NOT previous STREQUAL content)
  file(WRITE "${OUTPUT}" "${content}")
endif()
