// The public library (<stfpm/stfpm.h>): a Detector loaded from a trained model folder gives, for a file and for a
// caller's buffer (RGB or gray, with a row stride), the scores `stfpm predict` gives; it can be shared between
// threads; every failure is a stfpm::Error.
#include <catch2/catch.hpp>

#include <stfpm/stfpm.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "data/image_io.h"
#include "data/synthetic.h"
#include "test_util.h"

using namespace stfpm;

namespace {

using test::teacher_file;

// A 64-px synthetic dataset and a student trained on it for one epoch, tested (so thresholds.h5 exists).
struct TrainedModel {
  test::TempDir tmp{"api"};
  std::string root = tmp.path.string();
  std::string folder = root + "/models/synthetic";
  TrainConfig config;

  TrainedModel() {
    test::write_small_dataset(root + "/data", 6, 2, 2);
    config.data_dir = root + "/data";
    config.category = "synthetic";
    config.model_dir = root + "/models";
    config.results_dir = root + "/results";
    config.recipe.size = 64;
    config.recipe.epochs = 1;
    config.runtime.device = Device::cpu;
    config.runtime.teacher = teacher_file();
    train(config);
    TestConfig t;
    t.data_dir = config.data_dir;
    t.category = config.category;
    t.model_dir = config.model_dir;
    t.results_dir = config.results_dir;
    t.runtime = config.runtime;
    t.save_images = false;
    test_model(t);
  }
  std::string image(const std::string& defect, int i) const {
    char name[16];
    std::snprintf(name, sizeof name, "%03d.png", i);
    return root + "/data/synthetic/test/" + defect + "/" + name;
  }
};

Runtime cpu_runtime() {
  Runtime r;
  r.device = Device::cpu;
  r.teacher = teacher_file();
  return r;
}

}  // namespace

TEST_CASE("api: a detector's scores for files and buffers equal stfpm predict's", "[api]") {
  STFPM_SKIP_UNLESS(test::path_exists(teacher_file()), "no teacher in ../shared/weights");
  const TrainedModel m;
  Detector detector = Detector::load(m.folder, cpu_runtime(), 2);
  CHECK(detector.recipe().size == 64);
  CHECK(detector.epochs_trained() == 1);
  CHECK(std::isfinite(detector.image_threshold()));
  CHECK(detector.teacher() == teacher_file());

  const std::vector<std::string> paths = {m.image("good", 0), m.image("hole", 0), m.image("scratch", 1)};
  PredictConfig p;
  p.images = m.root + "/list.txt";
  {
    std::FILE* f = std::fopen(p.images.c_str(), "w");
    for (const std::string& path : paths) std::fprintf(f, "%s\n", path.c_str());
    std::fclose(f);
  }
  p.category = "synthetic";
  p.model_dir = m.config.model_dir;
  p.results_dir = m.config.results_dir;
  p.runtime = cpu_runtime();
  p.save_images = false;
  const PredictReport report = predict_images(p);
  REQUIRE(report.images.size() == paths.size());

  PredictOptions options;
  options.level_maps = true;
  options.full_size_map = true;
  const std::vector<Prediction> batch = detector.predict_files(paths, options);  // batches of 2: 2 + 1
  REQUIRE(batch.size() == paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    INFO(paths[i]);
    CHECK(batch[i].score == Approx(report.images[i].score).epsilon(1e-6));
    CHECK(batch[i].anomalous == report.images[i].anomalous);
    CHECK(batch[i].anomalous == (double(batch[i].score) >= detector.image_threshold()));
    // The readable score: in [0, 1], on the threshold's side, as predict_images reports it.
    CHECK(batch[i].normalized_score >= 0.0f);
    CHECK(batch[i].normalized_score <= 1.0f);
    CHECK(batch[i].normalized_score == Approx(report.images[i].normalized_score).margin(1e-6));
    CHECK((batch[i].normalized_score >= 0.5f) == batch[i].anomalous);
    CHECK(batch[i].map_size == 64);
    CHECK(batch[i].map.size() == 64 * 64);
    CHECK(batch[i].level_maps.size() == 3);
    CHECK(batch[i].width == 64);
    CHECK(batch[i].full_map.size() == 64 * 64);
    // The image score is the maximum of the map, which is the product of the level maps.
    float max = 0;
    for (float v : batch[i].map) max = std::max(max, v);
    CHECK(batch[i].score == max);
    CHECK(batch[i].map[100] == Approx(batch[i].level_maps[0][100] * batch[i].level_maps[1][100] *
                                      batch[i].level_maps[2][100]).epsilon(1e-5));
  }

  // The same pixels from a caller's buffer, with padding at the end of every row.
  const Image8 rgb = read_image_rgb(paths[1]);
  const size_t row = size_t(rgb.width) * 3, stride = row + 13;
  std::vector<uint8_t> padded(stride * size_t(rgb.height), 0xAB);
  for (int y = 0; y < rgb.height; ++y) std::copy_n(rgb.row(y), row, padded.data() + size_t(y) * stride);
  Image view{padded.data(), rgb.width, rgb.height, 3, stride};
  const Prediction from_buffer = detector.predict(view);
  CHECK(from_buffer.score == Approx(batch[1].score).epsilon(1e-6));
  CHECK(from_buffer.level_maps.empty());  // not asked for
  CHECK(from_buffer.full_map.empty());

  // A given threshold overrides the saved one.
  PredictOptions strict;
  strict.threshold = double(from_buffer.score) + 1.0;
  CHECK_FALSE(detector.predict(view, strict).anomalous);
  CHECK(detector.predict(view, strict).normalized_score < 0.5f);
  strict.threshold = double(from_buffer.score);
  CHECK(detector.predict(view, strict).anomalous);
  CHECK(detector.predict(view, strict).normalized_score == 0.5f);  // exactly at the threshold

  // Gray pixels are replicated into RGB, as a gray file is.
  Image8 gray(48, 40, 1);
  for (size_t i = 0; i < gray.data.size(); ++i) gray.data[i] = uint8_t((i * 7) % 251);
  const std::string gray_path = m.root + "/gray.png";
  write_png(gray_path, gray);
  const Prediction gray_file = detector.predict(gray_path, options);
  const Prediction gray_buffer = detector.predict(Image{gray.data.data(), 48, 40, 1, 0}, options);
  CHECK(gray_buffer.score == Approx(gray_file.score).epsilon(1e-6));
  CHECK(gray_file.width == 48);
  CHECK(gray_file.height == 40);
  CHECK(gray_file.full_map.size() == size_t(48 * 40));
}

TEST_CASE("api: one detector shared by threads, and one per thread, give the sequential results", "[api]") {
  STFPM_SKIP_UNLESS(test::path_exists(teacher_file()), "no teacher in ../shared/weights");
  const TrainedModel m;
  const std::vector<std::string> paths = {m.image("good", 1), m.image("spot", 0), m.image("hole", 1)};
  Runtime one_thread = cpu_runtime();
  one_thread.threads = 1;
  Detector shared = Detector::load(m.folder, one_thread);
  std::vector<float> expected;
  for (const std::string& p : paths) expected.push_back(shared.predict(p).score);

  constexpr int kThreads = 4;
  std::vector<std::vector<float>> got_shared(kThreads), got_own(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      // First a batch from a thread that did not load the detector and whose OpenMP team is larger than the
      // detector's one thread (creating a CPU backend changes the creating thread's team size).
      for (const Prediction& p : shared.predict_files(paths)) got_shared[size_t(t)].push_back(p.score);
      Detector own = Detector::load(m.folder, one_thread);
      for (const Prediction& p : own.predict_files(paths)) got_own[size_t(t)].push_back(p.score);
      for (int round = 0; round < 2; ++round)
        for (const std::string& p : paths) {
          got_shared[size_t(t)].push_back(shared.predict(p).score);
          got_own[size_t(t)].push_back(own.predict(p).score);
        }
    });
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t)
    for (size_t k = 0; k < 3 * paths.size(); ++k) {
      CHECK(got_shared[size_t(t)][k] == expected[k % paths.size()]);
      CHECK(got_own[size_t(t)][k] == expected[k % paths.size()]);
    }
}

TEST_CASE("api: failures are stfpm::Error with the message naming what is wrong", "[api][bad-input]") {
  const test::TempDir tmp("api_errors");
  const std::string root = tmp.path.string();
  CHECK_THROWS_AS(Detector::load(root + "/no_model"), Error);
  CHECK_THROWS_WITH(Detector::load(root + "/no_model"), Catch::Contains(root + "/no_model/student.h5"));
  CHECK_THROWS_WITH(find_teacher(root + "/missing.h5"), Catch::Contains("teacher file not found"));
  TrainConfig t;
  t.data_dir = root + "/nothing";
  t.category = "bottle";
  t.model_dir = root + "/models";
  t.results_dir = root + "/results";
  CHECK_THROWS_AS(train(t), Error);
  CHECK_THROWS_WITH(train(t), Catch::Contains(root + "/nothing"));
  CHECK_THROWS_AS(device_from_name("tpu"), Error);
  Recipe r;
  r.alphas = {1, 1};
  CHECK_THROWS_WITH(validate(r), Catch::Contains("--alphas: 2 weights for 3 layers"));

  STFPM_SKIP_UNLESS(test::path_exists(teacher_file()), "no teacher in ../shared/weights");
  const TrainedModel m;
  Detector d = Detector::load(m.folder, cpu_runtime());
  const uint8_t pixels[4] = {1, 2, 3, 4};
  CHECK_THROWS_WITH(d.predict(Image{pixels, 1, 2, 2, 0}), Catch::Contains("2 channels"));
  CHECK_THROWS_WITH(d.predict(Image{pixels, 2, 2, 1, 1}), Catch::Contains("row stride 1"));
  CHECK_THROWS_WITH(d.predict(Image{nullptr, 2, 2, 1, 0}), Catch::Contains("no pixels"));
  CHECK_THROWS_AS(d.predict(root + "/missing.png"), Error);
  CHECK_THROWS_WITH(d.predict(root + "/missing.png"), Catch::Contains("missing.png"));
}
