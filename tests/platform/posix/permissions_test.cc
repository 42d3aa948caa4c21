// Owner-only files on POSIX: the data directory 0700, the log 0600, lock files 0600
// created without following a symlink planted in advance.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/os.h"
#include "store/event_log.h"
#include "tests/util/subprocess.h"

namespace cg {
namespace {

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(PermissionsTest, DataDirectoryAndLogAreOwnerOnly) {
  testing::TempDir tmp;
  std::string dir = tmp.Sub("a/b/data");
  umask(0);  // whatever the umask, the modes are explicit
  auto log = store::EventLog::Open(dir, store::Options());
  umask(022);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_EQ(ModeOf(dir + "/data.mdb"), 0600u);
  EXPECT_EQ(ModeOf(dir + "/lock.mdb"), 0600u);
}

TEST(PermissionsTest, LockFilesAreOwnerOnlyAndNeverFollowALink) {
  testing::TempDir tmp;
  auto lock = os::CreateLockFile(tmp.path(), "run1-");
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ(ModeOf(*lock), 0600u);
  EXPECT_NE(lock->find("/run1-"), std::string::npos);
  auto other = os::CreateLockFile(tmp.path(), "run1-");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*lock, *other) << "names are random";
  // A symlink is never touched through: TouchFile and FileMtimeMicros act on the link.
  std::string target = tmp.Sub("target");
  std::string link = tmp.Sub("link.lock");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  (void)os::TouchFile(link);
  EXPECT_NE(access(target.c_str(), F_OK), 0) << "touching a planted link created its target";
}

// POSIX arguments are bytes: text that is not UTF-8 is refused before anything is
// written. (A Windows command line is UTF-16 and cannot carry such bytes.)
TEST(PosixArgumentsTest, TextThatIsNotUtf8IsRefused) {
  testing::TempDir tmp;
  std::string data = tmp.Sub("data");
  auto r = testing::RunProgram({testing::BinPath("chronotool"), "--data", data, "job", "add",
                                "x", "--schedule", "@daily", "--description", "caf\xe9", "--",
                                "/bin/true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not valid UTF-8"), std::string::npos) << r.err;
  auto list = testing::RunProgram({testing::BinPath("chronotool"), "--data", data, "replay"});
  EXPECT_EQ(list.out, "");
}

}  // namespace
}  // namespace cg
