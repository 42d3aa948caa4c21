// date/tz reads the system's zoneinfo (USE_OS_TZDB=1), which apt keeps current:
// nothing to prepare.
#include "service/schedule_internal.h"

namespace cg::sched::internal {

void PrepareTimeZoneDatabase() {}

}  // namespace cg::sched::internal
