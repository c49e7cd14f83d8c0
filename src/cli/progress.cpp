#include "progress.h"

#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>

namespace stfpm {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const long s = long(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

namespace {

// "4.6 img/s", or for slow work "45.8 s per epoch" (a rate of 0.0 epochs/s says nothing).
std::string rate_text(size_t done, double elapsed, const std::string& unit) {
  char buf[64];
  const double rate = elapsed > 0 ? double(done) / elapsed : 0.0;
  if (rate >= 1.0 || done == 0)
    std::snprintf(buf, sizeof buf, "%.1f %s/s", rate, unit.c_str());
  else
    std::snprintf(buf, sizeof buf, "%.1f s per %s", elapsed / double(done),
                  unit.size() > 1 && unit.back() == 's' ? unit.substr(0, unit.size() - 1).c_str() : unit.c_str());
  return buf;
}

}  // namespace

bool Progress::stderr_is_terminal() { return isatty(fileno(stderr)) != 0; }

Progress::Progress(std::string label, size_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(stderr_is_terminal()),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(size_t done, const std::string& status) {
  if (!tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = elapsed_seconds();
  const double rate = elapsed > 0 ? double(done) / elapsed : 0.0;
  const int width = 24;
  const int filled = total_ ? int(double(width) * double(done) / double(total_)) : width;
  std::string bar(size_t(filled), '#');
  bar.resize(size_t(width), '.');
  const double eta = rate > 0 ? double(total_ - done) / rate : -1;
  std::fprintf(stderr, "\r%s [%s] %zu/%zu  %s  ETA %s  %s\033[K", label_.c_str(), bar.c_str(), done, total_,
               rate_text(done, elapsed, unit_).c_str(), format_duration(eta).c_str(), status.c_str());
  std::fflush(stderr);
}

void Progress::finish(const std::string& status) {
  const double elapsed = elapsed_seconds();
  std::fprintf(stderr, "%s%s %zu %s in %s (%s)%s%s%s\n", tty_ ? "\r" : "", label_.c_str(), total_, unit_.c_str(),
               format_duration(elapsed).c_str(), rate_text(total_, elapsed, unit_).c_str(), status.empty() ? "" : "  ",
               status.c_str(), tty_ ? "\033[K" : "");
  std::fflush(stderr);
}

ProgressCallback console_progress() {
  auto tasks = std::make_shared<std::map<std::string, std::unique_ptr<Progress>>>();
  return [tasks](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::message) {
      std::fprintf(stderr, "%s\n", e.text.c_str());
      return;
    }
    std::unique_ptr<Progress>& p = (*tasks)[e.task];
    if (!p) p = std::make_unique<Progress>(e.task, e.total, e.unit);
    if (e.kind == ProgressEvent::Kind::update) {
      p->update(e.done, e.text);
    } else {
      p->finish(e.text);
      tasks->erase(e.task);
    }
  };
}

}  // namespace stfpm
