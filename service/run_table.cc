#include "service/run_table.h"

#include <algorithm>

namespace cg {

namespace {

// The value of each lowercase hex digit, 16 for any other byte (uppercase too: it
// would not come back as it came).
struct HexValues {
  uint8_t v[256];
  constexpr HexValues() : v() {
    for (int c = 0; c < 256; ++c) v[c] = 16;
    for (int c = '0'; c <= '9'; ++c) v[c] = static_cast<uint8_t>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) v[c] = static_cast<uint8_t>(c - 'a' + 10);
  }
};
constexpr HexValues kHexValues;

}  // namespace

HexDigest& HexDigest::operator=(const HexDigest& o) {
  if (this == &o) return *this;
  bytes_ = o.bytes_;
  kind_ = o.kind_;
  text_ = o.text_ ? std::make_unique<std::string>(*o.text_) : nullptr;
  return *this;
}

void HexDigest::Assign(std::string_view text) {
  text_.reset();
  if (text.empty()) {
    kind_ = Kind::kEmpty;
    return;
  }
  if (text.size() == 2 * bytes_.size()) {
    unsigned bad = 0;  // the 16s of non-digits, or-ed: checked once at the end
    for (size_t i = 0; i < bytes_.size(); ++i) {
      uint8_t hi = kHexValues.v[static_cast<uint8_t>(text[2 * i])];
      uint8_t lo = kHexValues.v[static_cast<uint8_t>(text[2 * i + 1])];
      bad |= hi | lo;
      bytes_[i] = static_cast<uint8_t>(hi << 4 | (lo & 15));
    }
    if (!(bad & 16)) {
      kind_ = Kind::kBytes;
      return;
    }
  }
  kind_ = Kind::kText;
  text_ = std::make_unique<std::string>(text);
}

std::string HexDigest::str() const {
  switch (kind_) {
    case Kind::kEmpty: return std::string();
    case Kind::kText: return *text_;
    case Kind::kBytes: break;
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out(2 * bytes_.size(), '0');
  for (size_t i = 0; i < bytes_.size(); ++i) {
    out[2 * i] = kHex[bytes_[i] >> 4];
    out[2 * i + 1] = kHex[bytes_[i] & 15];
  }
  return out;
}

bool HexDigest::operator==(std::string_view text) const {
  if (kind_ == Kind::kText) return *text_ == text;
  return str() == text;
}

RunTable::RunTable(const RunTable& o)
    : first_ids_(o.first_ids_), size_(o.size_), last_id_(o.last_id_) {
  chunks_.reserve(o.chunks_.size());
  for (const auto& c : o.chunks_) chunks_.push_back(std::make_unique<Chunk>(*c));
}

void RunTable::swap(RunTable& o) noexcept {
  chunks_.swap(o.chunks_);
  first_ids_.swap(o.first_ids_);
  spare_.swap(o.spare_);
  std::swap(size_, o.size_);
  std::swap(last_id_, o.last_id_);
}

RunRecord* RunTable::Append(uint64_t id) {
  if (!CanAppend(id)) return nullptr;
  if (chunks_.empty() || chunks_.back()->used == kChunkRuns) {
    chunks_.push_back(spare_ ? std::move(spare_) : std::make_unique<Chunk>());
    first_ids_.push_back(id);
  }
  Chunk& c = *chunks_.back();
  uint32_t slot = c.used++;
  c.ids[slot] = id;
  c.live[slot] = true;
  ++c.live_count;
  ++size_;
  last_id_ = id;
  RunRecord& r = c.runs[slot];  // default: a new chunk's, or reset when it was erased
  r.id = id;
  return &r;
}

bool RunTable::Locate(uint64_t id, size_t* chunk, uint32_t* slot) const {
  if (chunks_.empty() || id < first_ids_.front() || id > last_id_) return false;
  // Runs are mostly named soon after their claim: try the newest chunk first.
  size_t ci = chunks_.size() - 1;
  if (id < first_ids_[ci]) {
    ci = static_cast<size_t>(
        std::upper_bound(first_ids_.begin(), first_ids_.end(), id) - first_ids_.begin() - 1);
  }
  const Chunk& c = *chunks_[ci];
  // The newest few slots first, then a binary search for the first id >= id.
  uint32_t lo = 0, hi = c.used;
  for (uint32_t n = 0; n < 8 && hi > lo && c.ids[hi - 1] >= id; ++n) --hi;
  if (hi == lo || c.ids[hi - 1] >= id) {
    while (lo < hi) {
      uint32_t mid = (lo + hi) / 2;
      if (c.ids[mid] < id) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
  } else {
    lo = hi;  // ids[hi - 1] < id <= ids[hi]
  }
  if (lo == c.used || c.ids[lo] != id || !c.live[lo]) return false;
  *chunk = ci;
  *slot = lo;
  return true;
}

const RunRecord* RunTable::Find(uint64_t id) const {
  size_t ci;
  uint32_t slot;
  if (!Locate(id, &ci, &slot)) return nullptr;
  return &chunks_[ci]->runs[slot];
}

void RunTable::Erase(uint64_t id) {
  size_t ci;
  uint32_t slot;
  if (!Locate(id, &ci, &slot)) return;
  Chunk& c = *chunks_[ci];
  // Back to a default record (its strings keep their buffers for the slot's next run).
  RunRecord& r = c.runs[slot];
  static_cast<RunFacts&>(r) = RunFacts();
  r.job.clear();
  r.reason.clear();
  r.host.clear();
  r.lock_file.clear();
  r.output_digest.Clear();
  c.live[slot] = false;  // the hole keeps its id in `ids`: the search reads it
  --c.live_count;
  --size_;
  // An empty chunk goes once it is full (every chunk but the last one is): one still
  // being appended to stays.
  if (c.live_count == 0 && c.used == kChunkRuns) {
    std::unique_ptr<Chunk> freed = std::move(chunks_[ci]);
    chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(ci));
    first_ids_.erase(first_ids_.begin() + static_cast<std::ptrdiff_t>(ci));
    freed->used = 0;  // every slot was reset when its run was erased
    spare_ = std::move(freed);
  }
}

RunTable::const_iterator RunTable::begin() const {
  const_iterator it(this, 0, 0);
  if (!chunks_.empty() && !chunks_[0]->live[0]) ++it;
  return it;
}

RunTable::const_iterator RunTable::end() const { return const_iterator(this, chunks_.size(), 0); }

RunTable::const_reverse_iterator RunTable::rbegin() const {
  return const_reverse_iterator(end());
}

RunTable::const_reverse_iterator RunTable::rend() const {
  return const_reverse_iterator(begin());
}

RunTable::const_iterator& RunTable::const_iterator::operator++() {
  const auto& chunks = t_->chunks_;
  while (chunk_ < chunks.size()) {
    if (++slot_ >= chunks[chunk_]->used) {
      ++chunk_;
      slot_ = 0;
      if (chunk_ == chunks.size()) break;
    }
    if (chunks[chunk_]->live[slot_]) break;
  }
  return *this;
}

RunTable::const_iterator& RunTable::const_iterator::operator--() {
  const auto& chunks = t_->chunks_;
  do {
    if (slot_ == 0) {
      --chunk_;  // REQUIRES: not begin()
      slot_ = chunks[chunk_]->used;
    }
    --slot_;
  } while (!chunks[chunk_]->live[slot_]);
  return *this;
}

}  // namespace cg
