#include "service/handoff.h"

#include "store/coding.h"

namespace cg::handoff {

std::string Frame(Msg type, std::string_view payload) {
  std::string out;
  out.reserve(5 + payload.size());
  out.push_back(static_cast<char>(type));
  store::PutFixed32(&out, static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

Result<std::optional<Message>> TakeFrame(std::string* buf) {
  if (buf->size() < 5) return std::optional<Message>();
  char t = (*buf)[0];
  if (t != 'R' && t != 'G' && t != 'N' && t != 'E' && t != 'A') {
    return Status::Corruption("channel: unknown message type " + std::to_string(int{t}));
  }
  uint32_t len = 0;
  store::Decoder(std::string_view(*buf).substr(1, 4)).GetFixed32(&len);
  if (len > kMaxFrame) {
    return Status::Corruption("channel: a message of " + std::to_string(len) + " bytes");
  }
  if (buf->size() < 5 + len) return std::optional<Message>();
  Message f{static_cast<Msg>(t), buf->substr(5, len)};
  buf->erase(0, 5 + len);
  return std::optional<Message>(std::move(f));
}

std::string EncodeRun(const RunOrder& order) {
  std::string out;
  store::PutFixed64(&out, order.run_id);
  store::PutFixed64(&out, static_cast<uint64_t>(order.scheduled_for_us));
  store::PutLengthPrefixed(&out, order.lock_file);
  store::PutLengthPrefixed(&out, EncodePayload(JobDefined{order.spec}));
  return out;
}

Result<RunOrder> DecodeRun(std::string_view payload) {
  store::Decoder in(payload);
  RunOrder order;
  uint64_t scheduled = 0;
  std::string_view spec_bytes;
  if (!in.GetFixed64(&order.run_id) || !in.GetFixed64(&scheduled) ||
      !in.GetLengthPrefixed(&order.lock_file) || !in.GetLengthPrefixed(&spec_bytes) ||
      in.remaining() != 0) {
    return Status::Corruption("channel: a run order cut short");
  }
  order.scheduled_for_us = static_cast<int64_t>(scheduled);
  auto p = DecodePayload(static_cast<uint16_t>(EventType::kJobDefined), spec_bytes);
  if (!p.ok()) return p.status();
  const auto* defined = std::get_if<JobDefined>(&*p);
  if (!defined) return Status::Corruption("channel: a run order without a definition");
  order.spec = defined->spec;
  return order;
}

std::string EncodeStart(int64_t started_at_us) {
  std::string out;
  store::PutFixed64(&out, static_cast<uint64_t>(started_at_us));
  return out;
}

Result<int64_t> DecodeStart(std::string_view payload) {
  uint64_t v = 0;
  if (payload.size() != 8 || !store::Decoder(payload).GetFixed64(&v)) {
    return Status::Corruption("channel: a start of the wrong size");
  }
  return static_cast<int64_t>(v);
}

std::string EncodeEnd(const End& end) {
  std::string fin = EncodePayload(end.fin);
  std::string out;
  store::PutFixed32(&out, static_cast<uint32_t>(fin.size()));
  out += fin;
  out.push_back(end.leaving ? 1 : 0);
  out += end.output_record;
  return out;
}

Result<End> DecodeEnd(std::string_view payload) {
  store::Decoder in(payload);
  uint32_t n = 0;
  std::string_view fin_bytes;
  uint8_t leaving = 0;
  if (!in.GetFixed32(&n) || !in.GetBytes(n, &fin_bytes) || !in.GetByte(&leaving) ||
      leaving > 1) {
    return Status::Corruption("channel: an end cut short");
  }
  auto p = DecodePayload(static_cast<uint16_t>(EventType::kRunFinished), fin_bytes);
  if (!p.ok()) return p.status();
  const auto* fin = std::get_if<RunFinished>(&*p);
  if (!fin) return Status::Corruption("channel: an end that is not a RunFinished");
  End end;
  end.fin = *fin;
  end.leaving = leaving == 1;
  end.output_record = std::string(payload.substr(5 + fin_bytes.size()));
  return end;
}

bool EndIsRecordable(const State& s, uint64_t run_id) {
  const RunRecord* r = s.FindRun(run_id);
  if (!r) return s.MayHaveForgotten(run_id);
  return r->status == RunStatus::kRunning ||
         (r->status == RunStatus::kAbandoned && !r->finished_late);
}

}  // namespace cg::handoff
