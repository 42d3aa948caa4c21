// A test fixture that drives the real chronotool binary on a temporary data directory.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/util/subprocess.h"

namespace cg::testing {

class ToolTest : public ::testing::Test {
 protected:
  // chronotool --data <data_> ARGS...
  RunOutput Tool(std::vector<std::string> args) {
    args.insert(args.begin(), {BinPath("chronotool"), "--data", data_});
    return RunProgram(args);
  }
  // The same, expecting success; returns stdout.
  std::string Ok(const std::vector<std::string>& args) {
    RunOutput r = Tool(args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r.out;
  }

  TempDir tmp_;
  std::string data_ = tmp_.Sub("data");
};

}  // namespace cg::testing
