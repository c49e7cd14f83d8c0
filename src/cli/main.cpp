// The `stfpm` command: parses the command line and runs the subcommand through the library (<stfpm/stfpm.h>).
// Errors end the run with one line on stderr and a non-zero status: 2 for command-line mistakes, 1 for everything
// else (every library error is a stfpm::Error).
#include <cstdio>
#include <exception>
#include <string>

#include <stfpm/stfpm.h>

#include "options.h"
#include "progress.h"

namespace {

using namespace stfpm;

void print_test(const TestResult& r, const std::string& category) {
  std::printf("%s: pixel ROC-AUC %.4f  image ROC-AUC %.4f  pixel AUPRO %.4f  (mask rule %s, %d epochs)\n",
              category.c_str(), r.pixel_auroc, r.image_auroc, r.pixel_aupro, r.mask_rule.c_str(), r.epochs);
  std::printf("F1-optimal thresholds: pixel %.6g (F1 %.3f), image %.6g (F1 %.3f)\n", r.pixel_f1.threshold,
              r.pixel_f1.f1, r.image_f1.threshold, r.image_f1.f1);
  std::printf("reports: %s\n", r.results_folder.c_str());
}

void run(const CommandLine& c) {
  const ProgressCallback progress = console_progress();
  if (c.command == "train") {
    const TrainSummary summary = train(c.train_config(), progress);
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
    std::fprintf(stderr, "%zu of %zu images anomalous at threshold %.6g; reports: %s\n", flagged, r.images.size(),
                 r.threshold, r.folder.c_str());
  } else if (c.command == "evaluate") {
    const EvaluateResult r = evaluate_maps(c.evaluate_config(), progress);
    std::printf("%s (maps %s, %dx%d): pixel ROC-AUC %.4f  image ROC-AUC %.4f  pixel AUPRO %.4f  (mask rule %s)\n",
                c.category.c_str(), c.maps_dir.c_str(), r.width, r.height, r.pixel_auroc, r.image_auroc,
                r.pixel_aupro, r.mask_rule.c_str());
    std::printf("metrics: %s\n", r.metrics_file.c_str());
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
  try {
    run(command_line);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nstfpm %s: error: %s\n", command_line.command.c_str(), e.what());
    return 1;
  }
  return 0;
}
