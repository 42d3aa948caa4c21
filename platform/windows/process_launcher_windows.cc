// Placeholder replaced by the Windows process launcher (CreateProcessW + Job Object).
#include "service/process_launcher.h"

namespace cg {

std::unique_ptr<ProcessLauncher> NewProcessLauncher() { return nullptr; }

}  // namespace cg
