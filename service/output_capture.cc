#include "service/output_capture.h"

#include <algorithm>
#include <cstring>

namespace cg {

CappedOutput::CappedOutput(size_t cap) : head_cap_(cap / 2), tail_cap_(cap - cap / 2) {}

void CappedOutput::Append(const char* data, size_t n) {
  total_ += n;
  size_t to_head = std::min(n, head_cap_ - head_.size());
  head_.append(data, to_head);
  AppendTail(data + to_head, n - to_head);
}

void CappedOutput::AppendTail(const char* data, size_t n) {
  if (n == 0 || tail_cap_ == 0) return;
  if (n >= tail_cap_) {
    // Only the last tail_cap_ bytes of this chunk can survive: copy just those, so a
    // huge chunk costs one copy of the tail, not a pass through the ring.
    tail_.assign(data + n - tail_cap_, tail_cap_);
    tail_start_ = 0;
    return;
  }
  if (tail_.size() < tail_cap_) {
    // Still filling: the oldest byte is at 0 until the ring is full.
    size_t fill = std::min(n, tail_cap_ - tail_.size());
    tail_.append(data, fill);
    data += fill;
    n -= fill;
    if (n == 0) return;
  }
  // Full: overwrite the oldest bytes, wrapping at most once (n < tail_cap_).
  size_t first = std::min(n, tail_cap_ - tail_start_);
  std::memcpy(&tail_[tail_start_], data, first);
  std::memcpy(&tail_[0], data + first, n - first);
  tail_start_ = (tail_start_ + n) % tail_cap_;
}

std::string CappedOutput::Text() const {
  std::string text;
  std::string marker;
  if (truncated()) {
    marker = "\n[... chronograph: " + std::to_string(total_ - kept()) + " bytes omitted ...]\n";
  }
  text.reserve(kept() + marker.size());
  text.append(head_);
  text.append(marker);
  text.append(tail_, tail_start_, std::string::npos);
  text.append(tail_, 0, tail_start_);
  return text;
}

}  // namespace cg
