#include "service/run_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

namespace cg {
namespace {

std::vector<uint64_t> Ids(const RunTable& t) {
  std::vector<uint64_t> out;
  for (const RunRecord& r : t) out.push_back(r.id);
  return out;
}

std::vector<uint64_t> IdsBackwards(const RunTable& t) {
  std::vector<uint64_t> out;
  for (auto it = t.rbegin(); it != t.rend(); ++it) out.push_back(it->id);
  return out;
}

TEST(RunTableTest, AppendsInIdOrderAndRefusesAnIdNotAboveTheLast) {
  RunTable t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.begin(), t.end());
  ASSERT_NE(t.Append(5), nullptr);
  RunRecord* r = t.Append(9);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->id, 9u);
  r->job = "nightly";
  EXPECT_EQ(t.Append(9), nullptr);
  EXPECT_EQ(t.Append(7), nullptr);  // below the last, even though 7 is not held
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(Ids(t), (std::vector<uint64_t>{5, 9}));
  EXPECT_EQ(t.Find(9)->job, "nightly");
  EXPECT_EQ(t.Find(7), nullptr);
  EXPECT_EQ(t.Find(4), nullptr);
  EXPECT_EQ(t.Find(10), nullptr);
}

// Against a std::map doing the same, over many chunks, with runs erased in a random
// order (as a bounded fold does) and the table's records never moving.
TEST(RunTableTest, BehavesLikeAMapOverManyChunks) {
  RunTable t;
  std::map<uint64_t, const RunRecord*> model;
  std::mt19937 rng(7);
  uint64_t next = 1;
  for (int round = 0; round < 4000; ++round) {
    if (model.empty() || rng() % 3 != 0) {
      next += 1 + rng() % 3;
      RunRecord* r = t.Append(next);
      ASSERT_NE(r, nullptr);
      r->pid = static_cast<int64_t>(next * 10);
      model[next] = r;
    } else {
      auto it = model.begin();
      std::advance(it, rng() % model.size());
      t.Erase(it->first);
      t.Erase(it->first);  // a second erase is nothing
      model.erase(it);
    }
    if (round % 97 == 0) {
      std::vector<uint64_t> want;
      for (const auto& [id, r] : model) want.push_back(id);
      ASSERT_EQ(Ids(t), want);
      ASSERT_EQ(IdsBackwards(t), std::vector<uint64_t>(want.rbegin(), want.rend()));
    }
  }
  ASSERT_EQ(t.size(), model.size());
  for (uint64_t id = 0; id <= next + 1; ++id) {
    auto it = model.find(id);
    const RunRecord* r = t.Find(id);
    if (it == model.end()) {
      EXPECT_EQ(r, nullptr) << id;
    } else {
      EXPECT_EQ(r, it->second) << id;  // the same record, where it was appended
      EXPECT_EQ(r->pid, static_cast<int64_t>(id * 10));
    }
  }
}

// The service's fold keeps only the runs in flight: a table that sees a million runs
// come and go holds the few chunks of the ones left, and finds them.
TEST(RunTableTest, EmptiedChunksAreFreedAndARunLeftBehindStaysFound) {
  RunTable t;
  ASSERT_NE(t.Append(1), nullptr);  // a long run, never erased
  for (uint64_t id = 2; id < 200000; ++id) {
    ASSERT_NE(t.Append(id), nullptr);
    t.Erase(id - 1 == 1 ? 0 : id - 1);
  }
  EXPECT_EQ(Ids(t), (std::vector<uint64_t>{1, 199999}));
  EXPECT_EQ(IdsBackwards(t), (std::vector<uint64_t>{199999, 1}));
  ASSERT_NE(t.Find(1), nullptr);
  EXPECT_EQ(t.Find(1)->id, 1u);
  EXPECT_EQ(t.Find(199998), nullptr);
  t.Erase(1);
  t.Erase(199999);
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.begin(), t.end());
  EXPECT_EQ(t.rbegin(), t.rend());
  ASSERT_NE(t.Append(200000), nullptr);
  EXPECT_EQ(Ids(t), (std::vector<uint64_t>{200000}));
}

TEST(RunTableTest, AnErasedRunComesBackDefaultWhenItsChunkIsReused) {
  RunTable t;
  for (uint64_t id = 1; id <= 64; ++id) {
    RunRecord* r = t.Append(id);
    r->reason = "exit code 1";
    r->lock_file = "/locks/run.lock";
    r->output_digest.Assign("text");
  }
  const RunRecord* first = t.Find(1);
  // Newest first: the chunk of run 1 is the last to go, and the one kept spare.
  for (uint64_t id = 64; id >= 1; --id) t.Erase(id);
  EXPECT_TRUE(t.empty());
  RunRecord* r = t.Append(100);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r, first) << "the freed chunk is reused";
  EXPECT_EQ(r->reason, "");
  EXPECT_EQ(r->lock_file, "");
  EXPECT_TRUE(r->output_digest.empty());
  EXPECT_EQ(r->status, RunStatus::kScheduled);
  EXPECT_EQ(r->exit_code, -1);
}

TEST(RunTableTest, CopiesAreDeepAndIndependent) {
  RunTable a;
  for (uint64_t id = 1; id <= 150; ++id) a.Append(id)->host = "h" + std::to_string(id);
  a.Erase(70);
  RunTable b = a;
  b.Find(3)->host = "changed";
  b.Erase(4);
  ASSERT_NE(b.Append(151), nullptr);
  EXPECT_EQ(a.Find(3)->host, "h3");
  EXPECT_NE(a.Find(4), nullptr);
  EXPECT_EQ(a.Find(151), nullptr);
  EXPECT_EQ(a.size(), 149u);
  EXPECT_EQ(b.size(), 149u);
  EXPECT_EQ(b.Find(70), nullptr);
  RunTable c = std::move(b);
  EXPECT_EQ(c.Find(151)->id, 151u);
  // What is moved from is empty and usable.
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.begin(), b.end());
  ASSERT_NE(b.Append(1), nullptr);
  EXPECT_EQ(Ids(b), (std::vector<uint64_t>{1}));
  a = c;
  EXPECT_EQ(a.size(), 149u);
  EXPECT_EQ(a.Find(151)->id, 151u);
}

TEST(HexDigestTest, GivesBackExactlyWhatWasAssigned) {
  const std::string hex(
      "00ff10a9b8c7d6e5f4031234567890abcdefabcdef0123456789abcdeffedcba");
  ASSERT_EQ(hex.size(), 64u);
  for (const std::string& text :
       {hex, std::string(""), std::string("abc"), std::string(64, 'A'),  // uppercase
        hex.substr(0, 63) + "g", hex + "0", hex.substr(0, 62),
        std::string(63, '0') + std::string(1, '\0')}) {
    HexDigest d;
    d.Assign(text);
    EXPECT_EQ(d.str(), text);
    EXPECT_TRUE(d == text);
    EXPECT_FALSE(d != text);
    EXPECT_EQ(d.empty(), text.empty());
    HexDigest copy = d;
    EXPECT_EQ(copy.str(), text);
  }
  HexDigest d;
  d.Assign(hex);
  EXPECT_TRUE(d != hex.substr(0, 63) + "1");
  EXPECT_TRUE(d != std::string(64, '0'));
  d.Assign("other");  // a digest assigned again forgets the first
  EXPECT_EQ(d.str(), "other");
  d.Assign(hex);
  EXPECT_EQ(d.str(), hex);
  HexDigest text;
  text.Assign("odd");
  HexDigest taken = std::move(text);
  EXPECT_EQ(taken.str(), "odd");
  EXPECT_TRUE(text.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(text.str(), "");
}

}  // namespace
}  // namespace cg
