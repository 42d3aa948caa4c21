// chronotool: a thin command line over service/ and store/ (like leveldbutil).
#pragma once

#include <iosfwd>

namespace cg::tool {

// Exit statuses.
constexpr int kExitOk = 0;
constexpr int kExitProblem = 1;  // the command ran and found a problem (verify, I/O)
constexpr int kExitUsage = 2;    // usage errors and invalid input; nothing written

// Runs chronotool with the given arguments; output to `out`, errors to `err`.
int Main(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace cg::tool
