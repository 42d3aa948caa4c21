// Bounded capture of a job's stdout or stderr: the beginning and the end of the output,
// with the size of what was dropped in between. OS-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "service/process_launcher.h"

namespace cg {

// An OutputSink that keeps at most `cap` bytes of everything appended: the first
// cap/2 bytes (the head) and the last cap - cap/2 bytes (the tail, a ring buffer),
// and counts the total. Bytes are kept as they came: binary data and invalid UTF-8
// are not altered. Append is O(n) in the bytes appended, whatever the total.
// Not thread-safe: one thread appends (the one pumping the ChildProcess).
class CappedOutput final : public OutputSink {
 public:
  static constexpr size_t kDefaultCap = 1 << 20;  // 1 MiB

  explicit CappedOutput(size_t cap = kDefaultCap);
  CappedOutput(const CappedOutput&) = delete;
  CappedOutput& operator=(const CappedOutput&) = delete;

  void Append(const char* data, size_t n) override;

  // Everything appended when total() <= cap; otherwise the head, then the marker line
  // "\n[... chronograph: N bytes omitted ...]\n" (N = total() - kept()), then the tail.
  std::string Text() const;

  // Bytes appended so far.
  uint64_t total() const { return total_; }
  // Bytes of output kept (head + tail), not counting the marker. At most `cap`.
  uint64_t kept() const { return head_.size() + tail_.size(); }
  // True when some output was dropped (total() > kept()).
  bool truncated() const { return total_ > kept(); }

 private:
  void AppendTail(const char* data, size_t n);

  const size_t head_cap_;
  const size_t tail_cap_;
  uint64_t total_ = 0;
  std::string head_;
  // Grows up to tail_cap_; once full it is a ring whose oldest byte is at tail_start_.
  std::string tail_;
  size_t tail_start_ = 0;
};

}  // namespace cg
