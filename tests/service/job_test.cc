#include "service/job.h"

#include <gtest/gtest.h>

namespace cg {
namespace {

JobSpec Valid() {
  JobSpec s;
  s.name = "backup.db-1_x";
  s.argv = {"/bin/echo", "hi"};
  s.schedule = "*/5 * * * *";
  return s;
}

TEST(JobTest, AcceptsAValidSpec) { EXPECT_TRUE(ValidateJobSpec(Valid(), 0).ok()); }

TEST(JobTest, NamesAreLettersDigitsDashUnderscoreDotUpTo100) {
  EXPECT_TRUE(ValidateJobName(std::string(100, 'a')).ok());
  auto too_long = ValidateJobName(std::string(101, 'a'));
  EXPECT_TRUE(too_long.IsInvalidArgument());
  EXPECT_NE(too_long.message().find("101"), std::string::npos);
  for (const char* bad : {"", "a b", "a/b", "x;y", "name\n", "a\xc2\xa0" "b" /* nbsp */,
                          "\xe2\x80\x94" /* em dash */, "\xf0\x9f\x98\x80" /* emoji */,
                          "\xc3" /* truncated */, "a\xff"}) {
    EXPECT_TRUE(ValidateJobName(bad).IsInvalidArgument()) << bad;
  }
  // Letters of any script; the limit counts characters, not bytes.
  for (const char* good : {"r\xc3\xa9sum\xc3\xa9", "\xd0\xbe\xd1\x82\xd1\x87\xd1\x91\xd1\x82",
                           "\xe6\x97\xa5\xe6\x8a\xa5-2", "caf\xc3\xa9.v1"}) {
    EXPECT_TRUE(ValidateJobName(good).ok()) << good;
  }
  std::string hundred;
  for (int i = 0; i < 100; ++i) hundred += "\xc3\xa9";
  EXPECT_TRUE(ValidateJobName(hundred).ok());
  EXPECT_TRUE(ValidateJobName(hundred + "\xc3\xa9").IsInvalidArgument());
}

// The message quotes the name, but never raw invalid UTF-8 or control characters.
TEST(JobTest, InvalidNameIsShownEscaped) {
  auto st = ValidateJobName("caf\xe9\n\x1b[31mx");
  ASSERT_TRUE(st.IsInvalidArgument());
  EXPECT_NE(st.message().find("'caf\\xE9\\x0A\\x1B[31mx'"), std::string::npos) << st.message();
  st = ValidateJobName("sauvegarde été");
  EXPECT_NE(st.message().find("'sauvegarde été'"), std::string::npos) << st.message();
}

TEST(JobTest, RejectsEmptyCommands) {
  JobSpec s = Valid();
  s.argv.clear();
  EXPECT_NE(ValidateJobSpec(s, 0).message().find("command is empty"), std::string::npos);
  s.argv = {""};
  EXPECT_TRUE(ValidateJobSpec(s, 0).IsInvalidArgument());
  s.argv.clear();
  s.command_kind = CommandKind::kShell;
  s.shell = "  \t";
  EXPECT_NE(ValidateJobSpec(s, 0).message().find("shell command is empty"), std::string::npos);
}

TEST(JobTest, RejectsBadScheduleZoneEnvAndTimeout) {
  JobSpec s = Valid();
  s.schedule = " ";
  EXPECT_NE(ValidateJobSpec(s, 0).message().find("schedule is empty"), std::string::npos);
  s = Valid();
  s.schedule = "61 * * * *";
  EXPECT_TRUE(ValidateJobSpec(s, 0).IsInvalidArgument());
  s = Valid();
  s.time_zone = "Mars/Olympus_Mons";
  EXPECT_NE(ValidateJobSpec(s, 0).message().find("Mars/Olympus_Mons"), std::string::npos);
  s = Valid();
  s.env = {{"", "x"}};
  EXPECT_TRUE(ValidateJobSpec(s, 0).IsInvalidArgument());
  s = Valid();
  s.timeout_ms = -1;
  EXPECT_TRUE(ValidateJobSpec(s, 0).IsInvalidArgument());
}

TEST(JobTest, TextMustBeUtf8) {
  JobSpec s = Valid();
  s.description = "caf\xe9";
  EXPECT_NE(ValidateJobSpec(s, 0).message().find("description is not valid UTF-8"),
            std::string::npos);
  s = Valid();
  s.argv = {"/bin/echo", "\xff"};
  EXPECT_TRUE(ValidateJobSpec(s, 0).IsInvalidArgument());
  for (const char* bad : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    s = Valid();
    s.env = {{"K", bad}};  // overlong, surrogate, past U+10FFFF, truncated
    EXPECT_TRUE(ValidateJobSpec(s, 0).IsInvalidArgument()) << s.env[0].second;
  }
  s = Valid();
  s.description = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x98\x80";
  EXPECT_TRUE(ValidateJobSpec(s, 0).ok());
}

TEST(JobTest, CommandLineQuotesWhereNeeded) {
  JobSpec s = Valid();
  s.argv = {"/bin/sh", "-c", "echo 'a b'"};
  EXPECT_EQ(s.CommandLine(), "/bin/sh -c 'echo '\\''a b'\\'''");
  s.command_kind = CommandKind::kShell;
  s.shell = "echo hi | wc";
  EXPECT_EQ(s.CommandLine(), "echo hi | wc");
}

TEST(JobTest, PoliciesParseAndName) {
  EXPECT_EQ(*ParseOverlapPolicy("replace"), OverlapPolicy::kReplace);
  EXPECT_EQ(*ParseMissedPolicy("all"), MissedPolicy::kAll);
  EXPECT_FALSE(ParseOverlapPolicy("sometimes").ok());
  EXPECT_FALSE(ParseMissedPolicy("").ok());
  EXPECT_STREQ(OverlapPolicyName(OverlapPolicy::kQueue), "queue");
  EXPECT_STREQ(MissedPolicyName(MissedPolicy::kOnce), "once");
}

}  // namespace
}  // namespace cg
