// Progress of long work (an epoch, loading images, evaluating) on stderr. On a terminal: one line redrawn in
// place with a bar, rate, ETA and a status text. Elsewhere (logs, CI): nothing while running and one summary line
// at the end, so logs stay short.
#pragma once

#include <chrono>
#include <string>

#include <stfpm/stfpm.h>

namespace stfpm {

class Progress {
 public:
  // `unit` names what is counted ("img"); total is the count at completion.
  Progress(std::string label, size_t total, std::string unit = "img");
  // Reports `done` of total with an optional status ("loss 0.123"); redraws at most ~10 times a second.
  void update(size_t done, const std::string& status = "");
  // Prints the final line: label, count, elapsed time, rate and the status.
  void finish(const std::string& status = "");
  double elapsed_seconds() const;

  static bool stderr_is_terminal();

 private:
  std::string label_, unit_;
  size_t total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// The library's progress events drawn on stderr: messages as lines, each task as a Progress above.
ProgressCallback console_progress();

// "1:02:03" / "4:05"
std::string format_duration(double seconds);

}  // namespace stfpm
