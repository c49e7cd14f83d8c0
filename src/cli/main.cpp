// The `stfpm` command: parses the command line and runs the subcommand through the library (<stfpm/stfpm.h>).
// Errors end the run with one line on stderr and a non-zero status: 2 for command-line mistakes, 1 for everything
// else (every library error is a stfpm::Error).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>

#include <stfpm/stfpm.h>

#include "options.h"
#include "progress.h"

namespace {

using namespace stfpm;

// Ctrl-C and SIGTERM: while training, the first one asks `train` to stop at the next step (it saves a checkpoint
// and says how to resume); a second one, or one outside training, ends the process at once, removing the
// temporary file of a write in progress so no half-written file is left (finished files are written atomically).
std::atomic<int> stop_signal{0};
std::atomic<bool> training{false};

// Ends the process by `sig` itself (not by an exit status), so a calling shell or script sees an interrupted
// program and stops too, as it would without our handler.
[[noreturn]] void die_by(int sig) {
  signal(sig, SIG_DFL);
  sigset_t unblock;  // inside the handler the signal is blocked: raise() would only leave it pending
  sigemptyset(&unblock);
  sigaddset(&unblock, sig);
  sigprocmask(SIG_UNBLOCK, &unblock, nullptr);
  raise(sig);
  _exit(128 + sig);  // not reached
}

extern "C" void on_signal(int sig) {
  const int saved_errno = errno;  // the interrupted code may be about to read errno
  if (training.load() && stop_signal.exchange(sig) == 0) {
    static const char message[] =
        "\nstfpm: stopping after the current step to save a checkpoint (press Ctrl-C again to quit at once)\n";
    const ssize_t written = write(STDERR_FILENO, message, sizeof message - 1);
    (void)written;
    errno = saved_errno;
    return;
  }
  remove_pending_file();
  die_by(sig);
}

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  action.sa_flags = SA_RESTART;  // a write interrupted by the first Ctrl-C goes on instead of failing with EINTR
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

// An argument as the shell reads it back: as it is when it holds only safe characters, else in single quotes.
std::string shell_quote(const std::string& a) {
  if (!a.empty() && a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=,+-@%") ==
                        std::string::npos)
    return a;
  std::string out = "'";
  for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The command line again, with --resume, for the message of a stopped run.
std::string resume_command(int argc, char** argv) {
  std::string out = "stfpm";
  bool has_resume = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    has_resume |= a == "--resume";
    out += " " + shell_quote(a);
  }
  return has_resume ? out : out + " --resume";
}

// The threshold predict will apply, when it is not the F1-optimal one printed above.
void print_decision(const TestResult& r) {
  if (r.threshold_source.rfind("validation", 0) == 0)
    std::printf("decision threshold %.6g (%s)\n", r.decision_threshold, r.threshold_source.c_str());
}

void print_test(const TestResult& r, const std::string& category) {
  if (std::isnan(r.pixel_auroc)) {  // a test set without masks
    std::printf("%s: image ROC-AUC %.4f  (no masks, so no pixel metrics; %d epochs)\n", category.c_str(),
                r.image_auroc, r.epochs);
    std::printf("F1-optimal image threshold %.6g (F1 %.3f, fitted on the test set)\n", r.image_f1.threshold,
                r.image_f1.f1);
    print_decision(r);
    std::printf("reports: %s\n", r.results_folder.c_str());
    return;
  }
  std::printf("%s: pixel ROC-AUC %.4f  image ROC-AUC %.4f  pixel AUPRO %.4f  (mask rule %s, %d epochs)\n",
              category.c_str(), r.pixel_auroc, r.image_auroc, r.pixel_aupro, r.mask_rule.c_str(), r.epochs);
  std::printf("F1-optimal thresholds (fitted on the test set): pixel %.6g (F1 %.3f), image %.6g (F1 %.3f)\n",
              r.pixel_f1.threshold, r.pixel_f1.f1, r.image_f1.threshold, r.image_f1.f1);
  print_decision(r);
  std::printf("reports: %s\n", r.results_folder.c_str());
}

// The profile table: one row per op and layer, the largest first; numbers a reader can line up.
void print_profile(const ProfileReport& r) {
  std::printf("%s pass, batch %d, %dx%d, %d timed steps on %s\n", r.pass.c_str(), r.batch_size, r.size, r.size,
              r.steps, r.device.c_str());
  std::printf("step %.3f ms (%.2f img/s); ceilings: sgemm %.1f GFLOP/s, copy %.1f GB/s\n", r.step_ms,
              r.images_per_second, r.ceiling_gflops, r.ceiling_gbps);
  std::printf("without the profiler: %.3f ms per step (%.2f img/s; ops untimed, teacher and student side by side "
              "where the backend runs them so)\n\n",
              r.unprofiled_step_ms, r.unprofiled_images_per_second);
  std::printf("%-26s %-30s %6s %10s %10s %6s %8s %8s %8s\n", "op", "layer", "calls", "median ms", "ms/step",
              "share", "GFLOP/s", "GB/s", "ceiling");
  auto cell = [](double v, const char* format) {
    char buf[32];
    if (std::isnan(v)) return std::string("-");
    std::snprintf(buf, sizeof buf, format, v);
    return std::string(buf);
  };
  for (const ProfileRow& row : r.rows)
    std::printf("%-26s %-30s %6s %10s %10s %5.1f%% %8s %8s %8s\n", row.op.c_str(), row.layer.c_str(),
                cell(row.calls_per_step, "%g").c_str(), cell(row.median_ms, "%.4f").c_str(),
                cell(row.ms_per_step, "%.3f").c_str(), 100 * row.share, cell(row.gflops, "%.1f").c_str(),
                cell(row.gbps, "%.1f").c_str(), cell(100 * row.ceiling_fraction, "%.0f%%").c_str());
}

void run(const CommandLine& c, int argc, char** argv) {
  const ProgressCallback progress = console_progress();
  if (c.command == "train") {
    TrainConfig config = c.train_config();
    config.stop_requested = [] { return stop_signal.load() != 0; };
    training = true;
    const TrainSummary summary = train(config, progress);
    training = false;
    // A signal also counts when it came too late for a step (during the last one, or the final save): no test.
    if (const int sig = stop_signal.load()) {
      std::fprintf(stderr, "training %s; continue with:\n  %s\n",
                   summary.stopped ? "stopped by a signal" : "finished, test skipped because of a signal",
                   resume_command(argc, argv).c_str());
      std::fflush(nullptr);
      die_by(sig);
    }
    print_test(test_model(c.test_config(), progress, &summary), c.category);  // train then test, as the reference
  } else if (c.command == "test") {
    print_test(test_model(c.test_config(), progress), c.category);
  } else if (c.command == "predict") {
    const PredictReport r = predict_images(c.predict_config(), progress);
    size_t flagged = 0;
    for (const PredictedImage& p : r.images) {
      std::printf("%s\t%.6g\t%s\n", p.path.c_str(), double(p.score), p.anomalous ? "anomalous" : "normal");
      flagged += p.anomalous;
    }
    std::fprintf(stderr, "%zu of %zu images anomalous at threshold %.6g (%s); reports: %s\n", flagged,
                 r.images.size(), r.threshold, r.threshold_source.c_str(), r.folder.c_str());
  } else if (c.command == "evaluate") {
    const EvaluateResult r = evaluate_maps(c.evaluate_config(), progress);
    std::printf("%s (maps %s, %dx%d): pixel ROC-AUC %.4f  image ROC-AUC %.4f  pixel AUPRO %.4f  (mask rule %s)\n",
                c.category.c_str(), c.maps_dir.c_str(), r.width, r.height, r.pixel_auroc, r.image_auroc,
                r.pixel_aupro, r.mask_rule.c_str());
    std::printf("metrics: %s\n", r.metrics_file.c_str());
  } else if (c.command == "profile") {
    print_profile(profile(c.profile_config(), progress));
  } else {
    const SyntheticSummary s = write_synthetic(c.synthetic_config());
    std::printf("synthetic dataset: %s (%d train, %d good test, %d per defect type, %dx%d)\n", s.folder.c_str(),
                s.train, s.test_good, s.per_defect, s.size, s.size);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine command_line;
  try {
    std::string help;
    command_line = parse_command_line(argc, argv, &help);
    if (!help.empty()) {
      std::fputs(help.c_str(), stdout);
      return 0;
    }
  } catch (const UsageError& e) {
    std::fprintf(stderr, "stfpm: %s\n(`stfpm --help` lists the commands, `stfpm <command> --help` the options)\n",
                 e.what());
    return 2;
  }
  install_signal_handlers();
  try {
    run(command_line, argc, argv);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nstfpm %s: error: %s\n", command_line.command.c_str(), e.what());
    return 1;
  }
}
