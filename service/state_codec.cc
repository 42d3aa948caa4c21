#include "service/state_codec.h"

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include <sstream>

namespace cg {

// Non-intrusive cereal functions for the fold's types (the events have their own).
template <class A>
void save(A& ar, const HexDigest& d) {
  ar(d.str());
}

template <class A>
void load(A& ar, HexDigest& d) {
  std::string text;
  ar(text);
  d.Assign(text);
}

template <class A>
void serialize(A& ar, RunRecord& r) {
  ar(r.id, r.job, r.job_seq, r.scheduled_for_us, r.trigger, r.request_seq, r.dst_adjust,
     r.status, r.claimed_at_us, r.started_at_us, r.ended_at_us, r.exit_code, r.signal,
     r.reason, r.host, r.pid, r.lock_file, r.stdout_bytes, r.stderr_bytes, r.output_digest,
     r.output_purged, r.finished_late);
}

template <class A>
void save(A& ar, const JobState& j) {
  ar(j.schedule, j.time_zone, j.enabled, j.overlap, j.missed, j.spec_seq,
     static_cast<bool>(j.full_spec));
  if (j.full_spec) ar(*j.full_spec);
  ar(j.defined_seq, j.defined_at_us, j.changed_at_us, j.schedule_anchor_us, j.last_run_id,
     j.last_slot_us, j.disabled_skip_recorded, j.kept_finished_runs);
}

template <class A>
void load(A& ar, JobState& j) {
  bool has_full_spec = false;
  ar(j.schedule, j.time_zone, j.enabled, j.overlap, j.missed, j.spec_seq, has_full_spec);
  if (has_full_spec) {
    auto spec = std::make_shared<JobSpec>();
    ar(*spec);
    j.full_spec = std::move(spec);
  }
  ar(j.defined_seq, j.defined_at_us, j.changed_at_us, j.schedule_anchor_us, j.last_run_id,
     j.last_slot_us, j.disabled_skip_recorded, j.kept_finished_runs);
}

// The runs in id order, each with its id (as they are appended again when loaded).
template <class A>
void save(A& ar, const RunTable& t) {
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(t.size())));
  for (const RunRecord& r : t) ar(r);
}

template <class A>
void load(A& ar, RunTable& t) {
  cereal::size_type n = 0;
  ar(cereal::make_size_tag(n));
  for (cereal::size_type i = 0; i < n; ++i) {
    RunRecord r;
    ar(r);
    RunRecord* slot = t.Append(r.id);
    if (!slot) throw cereal::Exception("run " + std::to_string(r.id) + " out of order");
    *slot = std::move(r);
  }
}

template <class A>
void serialize(A& ar, ServiceInfo& s) {
  ar(s.running, s.pid, s.host, s.version, s.started_at_us, s.stopped_at_us);
}

template <class A>
void serialize(A& ar, State::PendingRequest& p) {
  ar(p.job, p.requested_at_us);
}

namespace {

template <class A, class S>
void Fields(A& ar, S& s) {
  ar(s.last_seq, s.last_time_us, s.events, s.ignored_events, s.jobs, s.runs, s.active_runs,
     s.pending_requests, s.service, s.finished_runs_per_job, s.forgotten_runs, s.keep_specs);
}

}  // namespace

std::string EncodeStateSnapshot(const State& state) {
  std::ostringstream out(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive ar(out);
    ar(kStateSnapshotVersion);
    Fields(ar, const_cast<State&>(state));  // saving only reads
  }
  return out.str();
}

namespace {

// Reads `bytes` in place: a snapshot of 100,000 jobs is some 13 MB, which an
// istringstream would copy twice while the decoded state is being built.
class ViewBuffer : public std::streambuf {
 public:
  explicit ViewBuffer(std::string_view bytes) {
    char* p = const_cast<char*>(bytes.data());  // only read: no put area is set
    setg(p, p, p + bytes.size());
  }
};

// What the fold always keeps true, which the readers of a state rely on (an active run
// is kept; no run is newer than the last event): the snapshot has no checksum of its
// own (its event's hash is checked, not its bytes).
Status CheckConsistent(const State& s) {
  auto bad = [](const std::string& what) {
    return Status::Corruption("snapshot is not a fold: " + what);
  };
  if (!s.runs.empty() && s.runs.rbegin()->id > s.last_seq) {
    return bad("run " + std::to_string(s.runs.rbegin()->id) + " is after its last event");
  }
  for (uint64_t id : s.active_runs) {
    const RunRecord* r = s.runs.Find(id);
    if (!r || (r->status != RunStatus::kScheduled && r->status != RunStatus::kRunning)) {
      return bad("active run " + std::to_string(id) + " is not kept as scheduled or running");
    }
  }
  for (const auto& [name, job] : s.jobs) {
    for (uint64_t id : job.kept_finished_runs) {
      if (!s.runs.contains(id)) {
        return bad("job '" + name + "' keeps run " + std::to_string(id) + ", which is not kept");
      }
    }
  }
  if (!s.pending_requests.empty() && s.pending_requests.rbegin()->first > s.last_seq) {
    return bad("a pending request is after its last event");
  }
  return Status::OK();
}

}  // namespace

Result<State> DecodeStateSnapshot(std::string_view bytes) {
  ViewBuffer buffer(bytes);
  std::istream in(&buffer);
  State state;
  try {
    cereal::PortableBinaryInputArchive ar(in);
    uint32_t version = 0;
    ar(version);
    if (version != kStateSnapshotVersion) {
      return Status::NotSupported("snapshot version " + std::to_string(version) +
                                  " (this program reads version " +
                                  std::to_string(kStateSnapshotVersion) + ")");
    }
    Fields(ar, state);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("snapshot does not decode: ") + e.what());
  }
  if (in.peek() != std::char_traits<char>::eof()) {
    return Status::Corruption("snapshot has trailing bytes");
  }
  CG_RETURN_IF_ERROR(CheckConsistent(state));
  return state;
}

}  // namespace cg
