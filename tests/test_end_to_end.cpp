// Level 4: the whole pipeline on the project's synthetic dataset with the real teacher, on the CPU: train a few
// epochs, test, check the metrics and the reports; and --resume against an uninterrupted run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include <stfpm/stfpm.h>

#include "data/dataset.h"
#include "data/synthetic.h"
#include "io/hdf5_io.h"
#include "model/checkpoint.h"
#include "test_util.h"

using namespace stfpm;

namespace {

using test::read_text;
using test::teacher_file;

double json_number(const std::string& json, const std::string& key) {
  std::smatch m;
  const std::regex re("\"" + key + "\": ([-0-9.eE]+)");
  if (!std::regex_search(json, m, re)) return -1;
  return std::stod(m[1]);
}

TrainConfig synthetic_run(const std::string& root, int epochs) {
  TrainConfig c;
  c.data_dir = root + "/data";
  c.category = "synthetic";
  c.model_dir = root + "/models";
  c.results_dir = root + "/results";
  c.runtime.teacher = teacher_file();
  c.runtime.device = Device::cpu;
  c.recipe.epochs = epochs;
  c.recipe.size = 128;
  return c;
}

TestConfig test_of(const TrainConfig& t) {
  TestConfig c;
  c.data_dir = t.data_dir;
  c.category = t.category;
  c.model_dir = t.model_dir;
  c.results_dir = t.results_dir;
  c.runtime = t.runtime;
  return c;
}

std::string checkpoint_of(const TrainConfig& t) { return t.model_dir + "/" + t.category + "/student.h5"; }

void write_dataset(const std::string& root) {
  SyntheticOptions options;  // 40 train, 8 good and 3 x 8 defective test images, 128 px
  write_synthetic_dataset(root + "/data", options);
}

// The synthetic dataset seen as your own folders, 3 epochs: normal_dir train/good, normal_test_dir test/good,
// abnormal/ holding the defect types (links to test/<type>), masks per defect type as <stem>_mask.png.
TrainConfig folder_run(const std::string& root, const std::string& category) {
  write_dataset(root);
  const std::string syn = root + "/data/synthetic";
  std::filesystem::create_directories(root + "/abnormal");
  for (const char* type : {"hole", "scratch", "spot"})
    std::filesystem::create_directory_symlink(syn + "/test/" + type, root + "/abnormal/" + type);
  TrainConfig config = synthetic_run(root, 3);
  config.data_dir.clear();
  config.category = category;
  config.folders.normal_dir = syn + "/train/good";
  config.folders.normal_test_dir = syn + "/test/good";
  config.folders.abnormal_dirs = {root + "/abnormal"};
  config.folders.mask_dir = syn + "/ground_truth";
  return config;
}

}  // namespace

TEST_CASE("end to end: synthetic data, 3 epochs on the CPU, pixel ROC-AUC >= 0.9", "[e2e]") {
  STFPM_SKIP_UNLESS(test::path_exists(teacher_file()), "no teacher in ../shared/weights");
  const test::TempDir tmp("e2e");
  const std::string root = tmp.path.string();
  write_dataset(root);
  const TrainConfig config = synthetic_run(root, 3);
  const TrainSummary summary = train(config);
  CHECK(summary.epochs_run == 3);
  CHECK(std::isfinite(summary.final_loss));
  TestConfig test = test_of(config);
  test.save_maps = true;
  const TestResult result = test_model(test, nullptr, &summary);

  const std::string metrics = read_text(root + "/results/synthetic/metrics.json");
  INFO(metrics);
  CHECK(json_number(metrics, "pixel_auroc") >= 0.9);
  CHECK(json_number(metrics, "image_auroc") >= 0.9);
  CHECK(json_number(metrics, "pixel_aupro") >= 0.7);
  CHECK(metrics.find("\"mask_rule\": \"strict255\"") != std::string::npos);
  CHECK(json_number(metrics, "epochs") == 3);
  CHECK(result.pixel_auroc == json_number(metrics, "pixel_auroc"));
  CHECK(result.epochs == 3);
  CHECK(test::path_exists(root + "/results/synthetic/scores.csv"));
  CHECK(test::path_exists(root + "/results/synthetic/pro_curve.csv"));
  CHECK(test::path_exists(root + "/results/synthetic/images/scratch/000.png"));
  CHECK(test::path_exists(root + "/models/synthetic/thresholds.h5"));
  // scores.csv's readable score: in [0, 1], 0 for the lowest score and on the threshold's side for every image.
  {
    std::istringstream csv(read_text(root + "/results/synthetic/scores.csv"));
    std::string line;
    std::getline(csv, line);
    CHECK(line == "path,defect_type,label,score,predicted,normalized_score");
    double lowest = 1.0;
    int rows = 0;
    while (std::getline(csv, line)) {
      INFO(line);
      const std::string predicted = line.substr(0, line.rfind(','));
      const double normalized = std::stod(line.substr(line.rfind(',') + 1));
      CHECK(normalized >= 0.0);
      CHECK(normalized <= 1.0);
      CHECK((normalized >= 0.5) == (predicted.back() == '1'));
      lowest = std::min(lowest, normalized);
      ++rows;
    }
    CHECK(rows > 0);
    CHECK(lowest <= 0.5);
  }

  // The TIFF maps, evaluated by `stfpm evaluate` at the original size (the model's size here), give the metrics of
  // the test itself.
  EvaluateConfig evaluate;
  evaluate.data_dir = config.data_dir;
  evaluate.category = config.category;
  evaluate.results_dir = config.results_dir;
  evaluate.maps_dir = root + "/results/synthetic/maps";
  CHECK(test::path_exists(evaluate.maps_dir + "/synthetic/test/hole/000.tiff"));
  evaluate_maps(evaluate);
  const std::string from_maps = read_text(root + "/results/synthetic/metrics_from_maps.json");
  CHECK(json_number(from_maps, "pixel_auroc") == Approx(json_number(metrics, "pixel_auroc")).epsilon(1e-12));
  CHECK(json_number(from_maps, "image_auroc") == Approx(json_number(metrics, "image_auroc")).epsilon(1e-12));
  CHECK(json_number(from_maps, "pixel_aupro") == Approx(json_number(metrics, "pixel_aupro")).epsilon(1e-12));

  // Streamed at batch 3 (chunks of 8 images, batches that end mid-chunk), the test writes the same files, and its
  // scratch files are gone.
  TestConfig chunked = test;
  chunked.results_dir = root + "/results_chunked";
  chunked.batch_size = 3;
  const TestResult chunked_result = test_model(chunked);
  CHECK(chunked_result.pixel_auroc == result.pixel_auroc);
  CHECK(chunked_result.pixel_aupro == result.pixel_aupro);
  CHECK(chunked_result.image_f1.threshold == result.image_f1.threshold);
  for (const char* file : {"scores.csv", "pro_curve.csv", "images/scratch/000.png", "images/good/007.png",
                           "maps/synthetic/test/spot/007.tiff"}) {
    INFO(file);
    CHECK(read_text(chunked.results_dir + "/synthetic/" + file) == read_text(root + "/results/synthetic/" + file));
  }
  for (const auto& entry : std::filesystem::recursive_directory_iterator(chunked.results_dir))
    CHECK(entry.path().filename().string().rfind(".stfpm-scratch", 0) == std::string::npos);

  // predict on two test images with the saved threshold: the defective one is flagged
  PredictConfig predict;
  predict.category = config.category;
  predict.model_dir = config.model_dir;
  predict.results_dir = config.results_dir;
  predict.runtime = config.runtime;
  predict.images = root + "/list.txt";
  std::ofstream(predict.images) << "data/synthetic/test/good/000.png\ndata/synthetic/test/hole/000.png\n";
  const PredictReport predicted = predict_images(predict);
  REQUIRE(predicted.images.size() == 2);
  CHECK(predicted.images[1].anomalous);
  const std::string csv = read_text(root + "/results/synthetic/predict/predictions.csv");
  INFO(csv);
  CHECK(csv.find("hole/000.png") != std::string::npos);
  CHECK(std::regex_search(csv, std::regex("hole/000.png,[^,]+,1")));
  CHECK(test::path_exists(root + "/results/synthetic/predict/images/000_1.png"));
}

TEST_CASE("end to end: folder datasets with masks, without masks (image metrics only), and a test split", "[e2e]") {
  STFPM_SKIP_UNLESS(test::path_exists(teacher_file()), "no teacher in ../shared/weights");
  const test::TempDir tmp("folders");
  const std::string root = tmp.path.string();
  TrainConfig config = folder_run(root, "folders");
  const std::string syn = root + "/data/synthetic";
  const TrainSummary summary = train(config);
  TestConfig test = test_of(config);
  test.folders = config.folders;
  const TestResult with_masks = test_model(test, nullptr, &summary);
  CHECK(with_masks.pixel_auroc >= 0.9);  // as the MVTec-layout run of the same data
  CHECK(with_masks.image_auroc >= 0.9);

  // The same model and images without masks: the same image metrics, no pixel metrics, said so in metrics.json.
  test.folders.mask_dir.clear();
  const TestResult without = test_model(test);
  CHECK(std::isnan(without.pixel_auroc));
  CHECK(std::isnan(without.pixel_aupro));
  CHECK(without.image_auroc == with_masks.image_auroc);
  CHECK(without.image_f1.threshold == with_masks.image_f1.threshold);
  const std::string metrics = read_text(root + "/results/folders/metrics.json");
  INFO(metrics);
  CHECK(metrics.find("\"pixel_auroc\": null") != std::string::npos);

  // Normal test images held out of training by --test_split: 8 of the 40, then 24 defective ones in the test.
  TrainConfig split = config;
  split.category = "split";
  split.folders.normal_test_dir.clear();
  split.folders.mask_dir.clear();
  split.folders.test_split = 0.2;
  train(split);
  TestConfig split_test = test_of(split);
  split_test.folders = split.folders;
  const TestResult held_out = test_model(split_test);
  CHECK(held_out.image_auroc >= 0.9);
  const std::string scores = read_text(root + "/results/split/scores.csv");
  CHECK(std::count(scores.begin(), scores.end(), '\n') == 1 + 8 + 24);
  CHECK(std::count(scores.begin(), scores.end(), ',') == 5 * (1 + 8 + 24));
  // The checkpoint records the split: `test` without --test_split holds out the same images, another is refused.
  split_test.folders.test_split = 0;
  CHECK(test_model(split_test).image_auroc == held_out.image_auroc);
  CHECK(read_text(root + "/results/split/scores.csv") == scores);
  split_test.folders.test_split = 0.5;
  CHECK_THROWS_WITH(test_model(split_test), Catch::Contains("--test_split is 0.500000 here but 0.200000"));
  // Flags that do not go together.
  TrainConfig both = split;
  both.data_dir = root + "/data";
  CHECK_THROWS_WITH(train(both), Catch::Contains("not both"));
  TrainConfig stray = synthetic_run(root, 1);
  stray.folders.mask_dir = root + "/abnormal";
  CHECK_THROWS_WITH(train(stray), Catch::Contains("go with --normal_dir"));
}

TEST_CASE("end to end: --val_split chooses the threshold on held-out normal images for test, predict and the Detector",
          "[e2e]") {
  STFPM_SKIP_UNLESS(test::path_exists(teacher_file()), "no teacher in ../shared/weights");
  const test::TempDir tmp("val_split");
  const std::string root = tmp.path.string();
  TrainConfig config = folder_run(root, "val");
  const std::string syn = root + "/data/synthetic";
  config.val_split = 0.2;
  const TrainSummary summary = train(config);
  REQUIRE(std::isfinite(summary.validation_threshold));
  CHECK(summary.validation_rule == "the 99.5th percentile of 8 held-out normal images");
  // 32 of the 40 images trained: one step of 32 per epoch (all 40 would take two).
  const std::string model_folder = root + "/models/val";
  CHECK(read_checkpoint_info(model_folder + "/student.h5").steps == 3);

  // The oracle: the held-out images scored by a Detector, and numpy.quantile's linear rule by hand.
  const ValidationSplit split =
      split_validation(scan_folders(config.folders, config.recipe.seed, Split::train), 0.2, config.recipe.seed);
  REQUIRE(split.validation.size() == 8);
  std::vector<std::string> held;
  for (const ImageRecord& r : split.validation) held.push_back(r.path);
  Detector detector = Detector::load(model_folder, config.runtime, 8);
  std::vector<float> scores;
  for (const Prediction& p : detector.predict_files(held)) scores.push_back(p.score);
  std::sort(scores.begin(), scores.end());
  const double h = 0.995 * 7;  // position in the 8 sorted scores
  CHECK(summary.validation_threshold == Approx(scores[6] + (h - 6) * (scores[7] - scores[6])).epsilon(1e-6));
  CHECK(detector.image_threshold() == summary.validation_threshold);
  CHECK(detector.pixel_threshold() == summary.validation_threshold);
  CHECK(detector.threshold_source() == "validation: " + summary.validation_rule);

  // test applies it (the F1-optimal one is reported, marked as fitted on the test set); so do predict and a
  // Detector loaded after test.
  TestConfig test = test_of(config);
  test.folders = config.folders;
  const TestResult result = test_model(test, nullptr, &summary);
  CHECK(result.pixel_auroc >= 0.9);
  CHECK(result.decision_threshold == summary.validation_threshold);
  CHECK(result.threshold_source.rfind("validation: ", 0) == 0);
  const std::string metrics = read_text(root + "/results/val/metrics.json");
  INFO(metrics);
  CHECK(metrics.find("\"fitted_on\": \"test set\"") != std::string::npos);
  CHECK(metrics.find("\"rule\": \"the 99.5th percentile\"") != std::string::npos);
  CHECK(json_number(metrics, "image_threshold") == Approx(summary.validation_threshold).epsilon(1e-9));
  std::istringstream csv(read_text(root + "/results/val/scores.csv"));
  std::string line;
  std::getline(csv, line);
  int rows = 0, flagged = 0, false_positives = 0;
  while (std::getline(csv, line)) {
    std::vector<std::string> f;
    std::stringstream fields(line);
    for (std::string v; std::getline(fields, v, ',');) f.push_back(v);
    REQUIRE(f.size() == 6);  // path,defect_type,label,score,predicted,normalized_score
    CHECK((std::stod(f[3]) >= summary.validation_threshold) == (f[4] == "1"));
    ++rows;
    flagged += f[4] == "1";
    false_positives += f[4] == "1" && f[2] == "0";
  }
  CHECK(rows == 32);
  CHECK(flagged > 0);
  CHECK(json_number(metrics, "test_false_positives") == false_positives);
  CHECK(json_number(metrics, "test_false_positive_rate") == Approx(false_positives / 8.0));
  PredictConfig predict;
  predict.images = syn + "/test/good";
  predict.category = "val";
  predict.model_dir = config.model_dir;
  predict.results_dir = config.results_dir;
  predict.runtime = config.runtime;
  const PredictReport predicted = predict_images(predict);
  CHECK(predicted.threshold == summary.validation_threshold);
  // Batches of 1 stream the 8 images in two chunks of 4: the same scores, in the same order.
  PredictConfig one_at_a_time = predict;
  one_at_a_time.batch_size = 1;
  const PredictReport streamed = predict_images(one_at_a_time);
  REQUIRE(streamed.images.size() == 8);
  for (size_t i = 0; i < 8; ++i) {
    CHECK(streamed.images[i].path == predicted.images[i].path);
    CHECK(streamed.images[i].score == Approx(predicted.images[i].score).epsilon(1e-5));
  }
  CHECK(Detector::load(model_folder, config.runtime).image_threshold() == summary.validation_threshold);

  // --max_fpr on the finished checkpoint: nothing to train, the threshold is chosen again, flagging 1 of 8.
  TrainConfig fpr = config;
  fpr.resume = true;
  fpr.max_fpr = 0.125;
  const TrainSummary refit = train(fpr);
  CHECK_FALSE(refit.trained);
  CHECK(refit.validation_threshold == double(std::nextafter(scores[6], INFINITY)));
  CHECK(refit.validation_rule == "max FPR 0.125 of 8 held-out normal images");
  CHECK(Detector::load(model_folder, config.runtime).image_threshold() == refit.validation_threshold);
  // Resuming with another split is refused; retraining without one removes the thresholds of the old weights.
  fpr.val_split = 0.3;
  CHECK_THROWS_WITH(train(fpr), Catch::Contains("--val_split is 0.3 here but 0.2"));
  namespace fs = std::filesystem;
  for (const char* name : {"validation.h5", "thresholds.h5"})
    fs::copy_file(model_folder + "/" + name, root + "/" + name);
  TrainConfig plain = config;
  plain.val_split = 0;
  plain.recipe.epochs = 1;
  CHECK(std::isnan(train(plain).validation_threshold));
  CHECK_FALSE(test::path_exists(model_folder + "/validation.h5"));
  CHECK_FALSE(test::path_exists(model_folder + "/thresholds.h5"));
  CHECK(std::isnan(Detector::load(model_folder, config.runtime).image_threshold()));
  CHECK_THROWS_WITH(predict_images(predict), Catch::Contains("train with --val_split"));
  // The old weights' files put back by hand are recognized as such (their SGD steps differ) and not applied.
  for (const char* name : {"validation.h5", "thresholds.h5"})
    fs::copy_file(root + "/" + name, model_folder + "/" + name);
  CHECK(std::isnan(Detector::load(model_folder, config.runtime).image_threshold()));
  CHECK_THROWS_WITH(predict_images(predict), Catch::Contains("thresholds.h5 and ") &&
                                                 Catch::Contains("validation.h5 came from other weights"));
}

TEST_CASE("end to end: --resume after 1 epoch equals an uninterrupted 2-epoch run", "[e2e]") {
  STFPM_SKIP_UNLESS(test::path_exists(teacher_file()), "no teacher in ../shared/weights");
  const test::TempDir tmp("resume");
  const std::string root = tmp.path.string();
  write_dataset(root);
  TrainConfig straight = synthetic_run(root, 2);
  straight.model_dir = root + "/straight";
  straight.recipe.batch_size = 16;  // several steps per epoch, including a partial batch (40 = 16 + 16 + 8)
  train(straight);

  TrainConfig first = straight;
  first.model_dir = root + "/resumed";
  first.recipe.epochs = 1;
  train(first);
  TrainConfig second = first;
  second.recipe.epochs = 2;
  second.resume = true;
  train(second);

  const H5Reader a(checkpoint_of(straight)), b(checkpoint_of(second));
  CHECK(a.attr_int("epoch") == 2);
  CHECK(b.attr_int("epoch") == 2);
  CHECK(a.attr_int("steps") == b.attr_int("steps"));
  for (const char* name : {"conv1.weight", "layer1.0.bn1.running_var", "layer3.1.conv2.weight",
                           "optimizer/momentum/layer2.0.downsample.0.weight"})
    CHECK(a.read_floats(name) == b.read_floats(name));

  TrainConfig other = second;
  other.recipe.batch_size = 8;
  other.recipe.epochs = 3;
  CHECK_THROWS_AS(train(other), stfpm::Error);
  CHECK_THROWS_WITH(train(other), Catch::Contains("checkpoint from another configuration") &&
                                      Catch::Contains("--batch_size is 8 here but 16"));
}

TEST_CASE("end to end: a run stopped between steps and resumed equals an uninterrupted run", "[e2e]") {
  STFPM_SKIP_UNLESS(test::path_exists(teacher_file()), "no teacher in ../shared/weights");
  const test::TempDir tmp("stop_resume");
  const std::string root = tmp.path.string();
  write_dataset(root);
  TrainConfig straight = synthetic_run(root, 2);
  straight.model_dir = root + "/straight";
  straight.recipe.batch_size = 16;  // 3 steps per epoch (16 + 16 + 8)
  train(straight);

  // Stop requests are polled after every step but an epoch's last, and at the end of every epoch.
  auto stop_at_poll = [](int n) {
    auto polls = std::make_shared<int>(0);
    return [polls, n] { return ++*polls == n; };
  };
  TrainConfig run = straight;
  run.model_dir = root + "/stopped";
  run.stop_requested = stop_at_poll(2);  // after step 2 of epoch 1
  const TrainSummary first = train(run);
  CHECK(first.stopped);
  CHECK_FALSE(first.trained);
  const std::string checkpoint = checkpoint_of(run);
  CHECK(H5Reader(checkpoint).attr_int("steps") == 2);
  CHECK(H5Reader(checkpoint).attr_int("epoch") == 0);

  run.resume = true;
  run.stop_requested = stop_at_poll(3);  // end of epoch 1, step 1 of epoch 2, then after step 2 of epoch 2
  CHECK(train(run).stopped);
  CHECK(H5Reader(checkpoint).attr_int("steps") == 5);
  CHECK(H5Reader(checkpoint).attr_int("epoch") == 1);

  run.stop_requested = nullptr;
  const TrainSummary last = train(run);
  CHECK(last.trained);
  const H5Reader a(checkpoint_of(straight)), b(checkpoint);
  CHECK(b.attr_int("epoch") == 2);
  CHECK(a.attr_int("steps") == b.attr_int("steps"));
  for (const char* name : {"conv1.weight", "layer1.0.bn1.running_var", "layer3.1.conv2.weight",
                           "optimizer/momentum/layer2.0.downsample.0.weight"})
    CHECK(a.read_floats(name) == b.read_floats(name));
}
