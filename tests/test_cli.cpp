// The `stfpm` command on bad input (DESIGN.md section 6): one clear line naming what is wrong, a non-zero exit
// status, and nothing lost. Runs the built binary.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "api/backends.h"
#include "io/hdf5_io.h"
#include "data/synthetic.h"
#include "test_util.h"

using namespace stfpm;

namespace {

struct Result {
  int status;
  std::string output;  // stdout and stderr
};

// A shell command line, its output collected.
Result run_command(const std::string& command) {
  const std::string cmd = command + " 2>&1";
  Result r{-1, ""};
  FILE* pipe = popen(cmd.c_str(), "r");
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) r.output.append(buf, n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

Result run(const std::string& args) { return run_command(std::string(STFPM_BINARY) + " " + args); }

using test::teacher_file;

// A small synthetic dataset (64 px) under root and the common flags for it.
std::string make_data(const std::string& root) {
  test::write_small_dataset(root + "/data", 6, 2, 2);
  return "--data_dir " + root + "/data --category synthetic --size 64 --device cpu --teacher " + teacher_file() +
         " --model_dir " + root + "/models --results_dir " + root + "/results";
}

}  // namespace

TEST_CASE("cli: usage errors exit 2 with the offending flag", "[cli][bad-input]") {
  Result r = run("train --epochz 3");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("unknown option --epochz"));
  r = run("train --epochs three");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("--epochs: 'three' is not a valid number"));
  r = run("frobnicate");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("unknown command 'frobnicate'"));
  r = run("--mode train --batch_size 0");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("--batch_size must be at least 1"));
  // Values that parse but cannot work are refused before anything is read: exit 1, one line.
  r = run("train --data_dir /nonexistent --category x --size 8");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("--size must be at least 17"));
  r = run("train --data_dir /nonexistent --category x --std 1e-40,1,1");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("normalized pixels would overflow"));
  r = run("train --data_dir d --category c --max_fpr 0.01");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("add --val_split F"));
  r = run("train --data_dir d --category c --val_split 0.2 --max_fpr 0.01 --val_quantile 0.99");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("give --val_quantile or --max_fpr, not both"));
  r = run("train --data_dir d --category c --val_split 1.5");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("--val_split must be between 0 and 1, got 1.5"));
  r = run("train --help");
  CHECK(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("--data_dir DIR") && Catch::Contains("--epochs N"));
}

TEST_CASE("cli: missing data, masks, teacher tensors and unwritable folders are named", "[cli][bad-input]") {
  const test::TempDir tmp("cli_bad");
  const std::string root = tmp.path.string();
  const std::string flags = make_data(root);
  Result r = run("train --data_dir /nonexistent/mvtec --category bottle --device cpu --model_dir " + root + "/m");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("/nonexistent/mvtec"));

  // a folder that cannot be created (a regular file is in the way)
  std::ofstream(root + "/blocker") << "x";
  r = run("train " + flags + " --epochs 1 --model_dir " + root + "/blocker/models");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains(root + "/blocker"));

  // a teacher file without one of its tensors
  {
    H5Writer out(root + "/bad_teacher.h5");
    std::vector<float> w(64 * 3 * 7 * 7, 0.0f);
    out.write("conv1.weight", Shape{64, 3, 7, 7}, w.data());
    out.commit();
  }
  r = run("train " + flags + " --epochs 1 --teacher " + root + "/bad_teacher.h5");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("bad_teacher.h5") && Catch::Contains("missing tensor 'bn1.weight'"));

  // a defect image whose mask is missing: found before training, not after it
  std::remove((root + "/data/synthetic/ground_truth/hole/001_mask.png").c_str());
  r = run("train " + flags + " --epochs 1");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("001_mask.png"));
}

TEST_CASE("cli: checkpoints from another configuration, resume without one, NaN loss", "[cli][bad-input]") {
  STFPM_SKIP_UNLESS(test::path_exists(teacher_file()), "no teacher in ../shared/weights");
  const test::TempDir tmp("cli_checkpoint");
  const std::string root = tmp.path.string();
  const std::string flags = make_data(root);
  Result r = run("train " + flags + " --epochs 1 --resume");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("no checkpoint to resume from"));

  // A size that cannot fit says how much it needs and what would fit, before allocating anything.
  r = run("train " + flags + " --epochs 1 --size 100000");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("not enough memory for the images: 6 images at 100000x100000 need") &&
                           Catch::Contains("at most about --size"));

  r = run("train " + flags + " --epochs 1 --no_images");
  REQUIRE(r.status == 0);
  r = run("test " + flags + " --size 96");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("checkpoint from another configuration: --size is 96 here but 64"));
  r = run("train " + flags + " --epochs 2 --resume --lr 0.1");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("--lr is 0.1 here but 0.4"));

  // A std this small keeps the inputs finite (about 5e37) but overflows the first convolution: the first loss is
  // NaN, training stops, and the checkpoint of the earlier run stays as it was.
  const std::string checkpoint = root + "/models/synthetic/student.h5";
  const std::vector<float> before = H5Reader(checkpoint).read_floats("conv1.weight");
  r = run("train " + flags + " --epochs 1 --std 1e-38,1e-38,1e-38 --no_images");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("the loss is") && Catch::Contains("training stopped"));
  CHECK(H5Reader(checkpoint).read_floats("conv1.weight") == before);
}

TEST_CASE("cli: train --val_split prints the validation threshold, and test and predict apply it", "[cli]") {
  STFPM_SKIP_UNLESS(test::path_exists(teacher_file()), "no teacher in ../shared/weights");
  const test::TempDir tmp("cli_val_split");
  const std::string root = tmp.path.string();
  const std::string flags = make_data(root);
  Result r = run("train " + flags + " --epochs 1 --no_images --val_split 0.3 --max_fpr 0");
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("validation threshold") &&
                           Catch::Contains("max FPR 0 of 2 held-out normal images") &&
                           Catch::Contains("decision threshold") && Catch::Contains("fitted on the test set"));
  r = run("predict " + flags + " --no_images --images " + root + "/data/synthetic/test/good");
  REQUIRE(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("(validation: max FPR 0 of 2 held-out normal images)"));
  // --normalized_colors changes the combined panel's colours, not the scores.
  const std::string good = " --images " + root + "/data/synthetic/test/good";
  REQUIRE(run("predict " + flags + good).status == 0);
  const std::string image = root + "/results/synthetic/predict/images/000.png";
  const std::string shared_colours = test::read_text(image);
  const std::string csv = test::read_text(root + "/results/synthetic/predict/predictions.csv");
  REQUIRE(run("predict " + flags + good + " --normalized_colors").status == 0);
  CHECK(test::read_text(image) != shared_colours);
  CHECK(test::read_text(root + "/results/synthetic/predict/predictions.csv") == csv);
  r = run("predict " + flags + " --no_images --threshold 0.5 --images " + root + "/data/synthetic/test/good");
  REQUIRE(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("at threshold 0.5 (--threshold)"));
}

TEST_CASE("cli: the CUDA backend is a module loaded only for --device cuda, with its failures named",
          "[cli]") {
  // The program and the library need no GPU library: they start and run on the CPU where none is installed.
  for (const std::string& binary : {std::string(STFPM_BINARY), std::string(STFPM_LIBRARY_FILE)}) {
    INFO(binary);
    const Result dynamic = run_command("readelf -d " + binary);
    if (dynamic.status == 127) continue;  // no binutils
    if (binary == STFPM_BINARY) CHECK_THAT(dynamic.output, Catch::Contains("libc.so"));
    CHECK_THAT(dynamic.output,
               !Catch::Contains("libcudnn") && !Catch::Contains("libcublas") && !Catch::Contains("libcudart"));
  }
  const std::string profile = " " + std::string(STFPM_BINARY) + " profile --size 64 --batch_size 1 --steps 1 --teacher " +
                              teacher_file();
  auto run_env = [&](const std::string& env, const std::string& device) {  // the caller's module setting left out
    return run_command("env -u STFPM_CUDA_MODULE " + env + profile + " --device " + device);
  };
#ifdef STFPM_WITH_CUDA
  Result r = run_env("STFPM_CUDA_MODULE=/nonexistent/libstfpm_cuda.so", "cuda");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("libstfpm_cuda.so was not found (looked for /nonexistent/libstfpm_cuda.so)"));
  r = run_env("STFPM_CUDA_MODULE=" + std::string(STFPM_FAKE_CUDA_MODULE), "cuda");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("was built from another stfpm (backend interface not-this-build"));
  if (!cuda_available()) {  // the built module loads, and its own check of the driver answers
    r = run_env("", "cuda");
    CHECK(r.status == 1);
    CHECK_THAT(r.output, Catch::Contains("--device cuda: no") && Catch::Contains("CUDA device"));
  }
#else
  Result r = run_env("", "cuda");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("this build has no CUDA backend"));
#endif
  if (!test::path_exists(teacher_file())) return;  // the CPU run below needs the teacher
  r = run_env("STFPM_CUDA_MODULE=/nonexistent/libstfpm_cuda.so", "cpu");
  CHECK(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("infer pass, batch 1, 64x64"));
}
