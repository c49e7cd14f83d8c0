// Faults, with the built `stfpm` binary in child processes: a second `train` on a model folder in use is refused,
// and `train` killed with SIGKILL at random moments (checkpoint writes included) and resumed ends bit-identical to
// an uninterrupted run, with a loadable checkpoint on disk after every kill; Ctrl-C; a full disk.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "data/image_io.h"
#include "data/synthetic.h"
#include "io/hdf5_io.h"
#include "io/json.h"
#include "io/tiff_io.h"
#include "test_util.h"

using namespace stfpm;

namespace {

using test::teacher_file;
std::string slurp(const std::string& path) { return test::read_text(path); }

// `stfpm <args>` in a child process with its output in `log`; returns the child's pid (the program itself).
pid_t start(const std::string& args, const std::string& log) {
  const std::string command = "exec " + std::string(STFPM_BINARY) + " " + args + " > " + log + " 2>&1";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

int wait_status(pid_t pid) {
  int raw = 0;
  waitpid(pid, &raw, 0);
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -WTERMSIG(raw);
}

// A small synthetic dataset (64 px, 8 training images) and the flags of a CPU run on it.
std::string make_data(const std::string& root) {
  test::write_small_dataset(root + "/data", 8, 2, 1);
  return "train --data_dir " + root + "/data --category synthetic --size 64 --batch_size 4 --device cpu --threads 1"
         " --no_images --teacher " + teacher_file() + " --results_dir " + root + "/results";
}

std::vector<std::string> checked_tensors() {
  return {"conv1.weight", "bn1.running_mean", "layer1.0.bn1.running_var", "layer2.1.conv2.weight",
          "layer3.1.conv2.weight", "optimizer/momentum/layer3.0.downsample.0.weight"};
}

}  // namespace

TEST_CASE("faults: a second train on a model folder in use is refused, and a killed run leaves no stuck lock",
          "[faults][cli]") {
  STFPM_SKIP_UNLESS(test::path_exists(teacher_file()), "no teacher in ../shared/weights");
  const test::TempDir tmp("faults_lock");
  const std::string root = tmp.path.string();
  const std::string flags = make_data(root) + " --model_dir " + root + "/models";
  const pid_t first = start(flags + " --epochs 200", root + "/first.log");
  // Wait until the first run trains (its first epoch is done): it holds the lock then.
  for (int i = 0; i < 600 && slurp(root + "/first.log").find("epoch 1/200") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(slurp(root + "/first.log").find("epoch 1/200") != std::string::npos);

  const pid_t second = start(flags + " --epochs 1", root + "/second.log");
  CHECK(wait_status(second) == 1);
  const std::string refused = slurp(root + "/second.log");
  INFO(refused);
  CHECK(refused.find(root + "/models/synthetic: in use by another stfpm train (pid " + std::to_string(first)) !=
        std::string::npos);

  kill(first, SIGKILL);
  CHECK(wait_status(first) == -SIGKILL);
  const pid_t third = start(flags + " --epochs 1", root + "/third.log");
  CHECK(wait_status(third) == 0);
  INFO(slurp(root + "/third.log"));
}

TEST_CASE("faults: train killed with SIGKILL at random moments and resumed equals an uninterrupted run",
          "[faults][cli]") {
  STFPM_SKIP_UNLESS(test::path_exists(teacher_file()), "no teacher in ../shared/weights");
  const test::TempDir tmp("faults_kill");
  const std::string root = tmp.path.string();
  const std::string flags = make_data(root);
  const int epochs = 12;
  const std::string run = flags + " --epochs " + std::to_string(epochs);
  REQUIRE(wait_status(start(run + " --model_dir " + root + "/straight", root + "/straight.log")) == 0);
  // An uninterrupted run's duration sets the range of kill times: the faster of two, so that a run slowed by other
  // tests on the machine does not stretch the kill times past the end of the later runs.
  double total_ms = 1e300;
  for (int i = 0; i < 2; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(wait_status(start(run + " --model_dir " + root + "/timing", root + "/timing.log")) == 0);
    total_ms = std::min(total_ms,
                        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }

  const std::string checkpoint = root + "/killed/synthetic/student.h5";
  std::mt19937 rng(12345);
  // Each killed run gets at most 0.25 of an uninterrupted run's time, so the first three kills always land.
  std::uniform_real_distribution<double> when(0.1, 0.25);
  int kills = 0, status = -1;
  for (int attempt = 0; attempt < 12 && status != 0; ++attempt) {
    const bool resume = test::path_exists(checkpoint);
    const pid_t pid = start(run + " --model_dir " + root + "/killed" + (resume ? " --resume" : ""),
                            root + "/killed.log");
    if (attempt < 5) {
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(when(rng) * total_ms));
      kill(pid, SIGKILL);  // no effect when the run has already finished
    }
    status = wait_status(pid);
    if (status == -SIGKILL) {
      ++kills;
      if (test::path_exists(checkpoint)) {  // whatever the moment, the checkpoint on disk is whole
        const H5Reader in(checkpoint);
        CHECK(in.attr_int("epoch") >= 1);
        CHECK(in.read_floats("layer3.1.conv2.weight").size() == size_t(256 * 256 * 9));
      }
    } else {
      INFO(slurp(root + "/killed.log"));
      CHECK(status == 0);
    }
  }
  INFO(kills << " kills");
  CHECK(kills >= 3);
  REQUIRE(status == 0);
  const H5Reader a(root + "/straight/synthetic/student.h5"), b(checkpoint);
  CHECK(b.attr_int("epoch") == epochs);
  CHECK(a.attr_int("steps") == b.attr_int("steps"));
  for (const std::string& name : checked_tensors()) {
    INFO(name);
    CHECK(a.read_floats(name) == b.read_floats(name));
  }
}

TEST_CASE("faults: Ctrl-C stops training at a step with a checkpoint and the resume command, twice quits at once",
          "[faults][cli]") {
  STFPM_SKIP_UNLESS(test::path_exists(teacher_file()), "no teacher in ../shared/weights");
  const test::TempDir tmp("faults_signal");
  const std::string root = tmp.path.string();
  const std::string flags = make_data(root) + " --model_dir " + root + "/models";
  const std::string checkpoint = root + "/models/synthetic/student.h5";
  // Waits of up to two minutes: a loaded machine (CI runs two tests at once) slows the runs several times over.
  auto wait_for = [&](const std::string& log, const std::string& text) {
    for (int i = 0; i < 2400 && slurp(log).find(text) == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return slurp(log).find(text) != std::string::npos;
  };

  const pid_t pid = start(flags + " --epochs 200", root + "/stop.log");
  REQUIRE(wait_for(root + "/stop.log", "epoch 2/200"));
  kill(pid, SIGINT);
  CHECK(wait_status(pid) == -SIGINT);  // ends by the signal, so a calling script stops too
  const std::string log = slurp(root + "/stop.log");
  INFO(log);
  CHECK(log.find("stopping after the current step") != std::string::npos);
  CHECK(log.find("training stopped by a signal; continue with:") != std::string::npos);
  CHECK(log.find("--epochs 200 --resume") != std::string::npos);
  CHECK(log.find("pixel ROC-AUC") == std::string::npos);  // no test after a stopped training
  const H5Reader saved(checkpoint);
  CHECK(saved.attr_int("steps") >= 4);  // at least the two epochs of 2 steps seen in the log
  CHECK_FALSE(test::path_exists(checkpoint + ".tmp"));

  // SIGTERM twice: the second, sent as soon as the first has been seen, ends the process at once instead of after
  // the step. The steps are made slow (256 px, 8 images at once, one thread) so that the graceful stop cannot come
  // first; its message must not appear.
  const std::string slow = make_data(root + "/slow") + " --model_dir " + root + "/slow/models --size 256 --batch_size 8";
  const pid_t twice = start(slow + " --epochs 200", root + "/twice.log");
  // Epoch 1's line is printed before its checkpoint is written: wait for the file itself, or the second signal could
  // land during that first write and rightly leave no checkpoint at all.
  const std::string slow_checkpoint = root + "/slow/models/synthetic/student.h5";
  for (int i = 0; i < 2400 && !test::path_exists(slow_checkpoint); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(test::path_exists(slow_checkpoint));
  kill(twice, SIGTERM);
  REQUIRE(wait_for(root + "/twice.log", "stopping after the current step"));
  kill(twice, SIGTERM);
  CHECK(wait_status(twice) == -SIGTERM);
  const std::string twice_log = slurp(root + "/twice.log");
  INFO(twice_log);
  CHECK(twice_log.find("training stopped by a signal") == std::string::npos);
  CHECK_FALSE(test::path_exists(slow_checkpoint + ".tmp"));
  H5Reader(slow_checkpoint).read_floats("conv1.weight");  // epoch 1's, whole

  // The resume command continues.
  CHECK(wait_status(start(flags + " --epochs 3 --resume", root + "/resume.log")) == 0);
  INFO(slurp(root + "/resume.log"));
}

TEST_CASE("faults: a full disk is a clear error and leaves the previous file as it was", "[faults][bad-input]") {
  // Every write goes to "<file>.tmp" first; a link from there to /dev/full makes each write fail with ENOSPC.
  STFPM_SKIP_UNLESS(test::path_exists("/dev/full"), "no /dev/full");
  const test::TempDir tmp("faults_full");
  auto full = [&](const std::string& name) {
    const std::string path = tmp.file(name);
    std::ofstream(path) << "previous";
    REQUIRE(symlink("/dev/full", (path + ".tmp").c_str()) == 0);
    return path;
  };
  auto unchanged = [&](const std::string& path) {
    INFO(path);
    CHECK(slurp(path) == "previous");
    CHECK_FALSE(test::path_exists(path + ".tmp"));  // the failed temporary file (here the link) is gone
  };
  const std::string json = full("metrics.json");
  CHECK_THROWS_WITH(write_json_file(json, Json{{"x", 1}}),
                    Catch::Contains("cannot write " + json) && Catch::Contains("No space left on device"));
  unchanged(json);

  const std::string png = full("image.png");
  CHECK_THROWS_WITH(write_png(png, Image8(8, 8, 3)), Catch::Contains(png) && Catch::Contains("No space left"));
  unchanged(png);

  const std::string tiff = full("map.tiff");
  const std::vector<float> map(64, 0.5f);
  CHECK_THROWS_WITH(write_tiff_float(tiff, map.data(), 8, 8), Catch::Contains(tiff) && Catch::Contains("cannot write"));
  unchanged(tiff);

  const std::string h5 = full("student.h5");
  CHECK_THROWS_WITH(
      [&] {
        H5Writer out(h5);
        const std::vector<float> big(1 << 20, 1.0f);  // more than HDF5 keeps in its buffers
        out.write("w", Shape{int64_t(big.size())}, big.data());
        out.commit();
      }(),
      Catch::Contains(h5));
  unchanged(h5);
}
