#include "server/model_pool.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "server/api_error.h"

namespace hearth::server {
namespace {

using std::chrono::milliseconds;

[[noreturn]] void bad_keep_alive(const std::string& text) {
  bad_request("keep_alive",
              "'keep_alive' must be a duration such as \"5m\", \"1h30m\" or \"90s\", a number of seconds, 0 (unload "
              "now) or -1 (keep loaded); got {}",
              text);
}

// Seconds (possibly negative or fractional) -> keep_alive; negative: forever.
KeepAlive from_seconds(double seconds) {
  if (seconds < 0) return std::nullopt;
  return milliseconds(int64_t(std::llround(std::min(seconds, 1e12) * 1000.0)));
}

// Go's time.ParseDuration: [-+]? (number unit)+, units ns us µs ms s m h.
std::optional<double> go_duration_seconds(const std::string& s) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
  if (i == s.size()) return std::nullopt;
  double total = 0;
  while (i < s.size()) {
    const size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    char* end = nullptr;
    const std::string number = s.substr(start, i - start);
    const double value = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size()) return std::nullopt;
    const size_t unit_start = i;
    while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.') ++i;
    const std::string unit = s.substr(unit_start, i - unit_start);
    double scale = 0;
    if (unit == "h") scale = 3600;
    else if (unit == "m") scale = 60;
    else if (unit == "s") scale = 1;
    else if (unit == "ms") scale = 1e-3;
    else if (unit == "us" || unit == "\xC2\xB5s") scale = 1e-6;
    else if (unit == "ns") scale = 1e-9;
    else return std::nullopt;
    total += value * scale;
  }
  return negative ? -total : total;
}

}  // namespace

KeepAlive parse_keep_alive(const nlohmann::json& value, KeepAlive fallback) {
  if (value.is_null()) return fallback;
  if (value.is_number()) return from_seconds(value.get<double>());
  if (!value.is_string()) bad_keep_alive(value.dump());
  const std::string text = value.get<std::string>();
  if (text.empty()) return fallback;
  // A plain number is seconds (Ollama's clients send "-1" and "0").
  char* end = nullptr;
  const double seconds = std::strtod(text.c_str(), &end);
  if (end == text.c_str() + text.size() && std::isfinite(seconds)) return from_seconds(seconds);
  if (const auto parsed = go_duration_seconds(text)) return from_seconds(*parsed);
  bad_keep_alive("\"" + text + "\"");
}

ModelPool::ModelPool(Footprint budgets) : budgets_(std::move(budgets)) {
  if (budgets_.empty()) budgets_.push_back(UINT64_MAX);
}

uint64_t ModelPool::used_in(size_t memory) const {
  uint64_t sum = 0;
  for (const Entry& e : entries_) sum += memory < e.footprint.size() ? e.footprint[memory] : 0;
  return sum;
}

const ModelPool::Entry* ModelPool::find(const std::string& name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

ModelPool::Entry* ModelPool::entry(const std::string& name) {
  for (Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

std::vector<ModelPool::Entry> ModelPool::entries() const {
  std::vector<Entry> out = entries_;
  std::stable_sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.last_used > b.last_used; });
  return out;
}

ModelPool::Room ModelPool::make_room(const Footprint& need) const {
  Room room;
  const size_t n = budgets_.size();
  const auto needs = [&](size_t i) { return i < need.size() ? need[i] : 0; };
  for (size_t i = 0; i < n; ++i) {
    if (needs(i) > budgets_[i]) {
      room.verdict = Room::Verdict::TooLarge;
      room.memory = i;
      return room;
    }
  }
  Footprint free(n);
  for (size_t i = 0; i < n; ++i) free[i] = budgets_[i] - std::min(budgets_[i], used_in(i));
  // The first memory that lacks room, or n when all have it.
  const auto short_of = [&] {
    for (size_t i = 0; i < n; ++i)
      if (needs(i) > free[i]) return i;
    return n;
  };
  if (short_of() == n) return room;
  std::vector<const Entry*> idle;
  for (const Entry& e : entries_)
    if (e.in_use == 0 && !e.loading) idle.push_back(&e);
  std::stable_sort(idle.begin(), idle.end(), [](const Entry* a, const Entry* b) { return a->last_used < b->last_used; });
  for (const Entry* e : idle) {
    // Only a model holding some of a memory that lacks room makes room.
    bool helps = false;
    for (size_t i = 0; i < n && i < e->footprint.size(); ++i) helps = helps || (needs(i) > free[i] && e->footprint[i] > 0);
    if (!helps) continue;
    room.evict.push_back(e->name);
    for (size_t i = 0; i < n && i < e->footprint.size(); ++i) free[i] += e->footprint[i];
    if (short_of() == n) return room;
  }
  // Even with every idle model gone, the ones in use hold too much.
  room.verdict = Room::Verdict::Wait;
  room.memory = short_of();
  room.evict.clear();
  return room;
}

void ModelPool::start_load(const std::string& name, const Footprint& need, Clock::time_point now) {
  remove(name);
  Entry e;
  e.name = name;
  e.footprint = need;
  for (uint64_t b : need) e.bytes += b;
  e.in_use = 1;
  e.loading = true;
  e.last_used = now;
  entries_.push_back(std::move(e));
}

void ModelPool::finish_load(const std::string& name) {
  if (Entry* e = entry(name)) e->loading = false;
}

void ModelPool::remove(const std::string& name) {
  std::erase_if(entries_, [&](const Entry& e) { return e.name == name; });
}

void ModelPool::acquire(const std::string& name, Clock::time_point now) {
  Entry* e = entry(name);
  if (!e) return;
  ++e->in_use;
  e->last_used = now;
  e->expires_at.reset();
}

void ModelPool::release(const std::string& name, KeepAlive keep_alive, Clock::time_point now) {
  Entry* e = entry(name);
  if (!e) return;
  e->in_use = std::max(0, e->in_use - 1);
  e->last_used = now;
  set_keep_alive(name, keep_alive, now);
}

void ModelPool::set_keep_alive(const std::string& name, KeepAlive keep_alive, Clock::time_point now) {
  Entry* e = entry(name);
  if (!e) return;
  e->keep_alive = keep_alive;
  if (e->in_use > 0 || !keep_alive) e->expires_at.reset();
  else e->expires_at = now + *keep_alive;
}

std::vector<std::string> ModelPool::expired(Clock::time_point now) const {
  std::vector<std::string> out;
  for (const Entry& e : entries_)
    if (e.in_use == 0 && !e.loading && e.expires_at && *e.expires_at <= now) out.push_back(e.name);
  return out;
}

std::optional<ModelPool::Clock::time_point> ModelPool::next_expiry() const {
  std::optional<Clock::time_point> next;
  for (const Entry& e : entries_)
    if (e.in_use == 0 && e.expires_at && (!next || *e.expires_at < *next)) next = e.expires_at;
  return next;
}

}  // namespace hearth::server
