// libstfpm: STFPM anomaly detection (student-teacher feature pyramid matching) as a C++17 library.
//
//   #include <stfpm/stfpm.h>
//   stfpm::Detector detector = stfpm::Detector::load("models/bottle");   // student.h5 + thresholds.h5
//   stfpm::Prediction p = detector.predict("photo.png");                 // or an 8-bit buffer: stfpm::Image
//   std::printf("%s %.4f\n", p.anomalous ? "anomalous" : "normal", p.score);
//
// CMake: find_package(stfpm CONFIG REQUIRED) and target_link_libraries(app PRIVATE stfpm::stfpm).
//
// Errors: every function here reports failure by throwing stfpm::Error, whose what() is one line naming the file
// or the value that is wrong (the line the `stfpm` command prints).
//
// Threads: a Detector may be shared between threads; its calls are serialized by an internal lock. For parallel
// throughput give each thread its own Detector. Free functions (train, test_model, ...) share no state and may run
// concurrently on different model folders. On the CPU each call runs Runtime::threads OpenMP threads, whichever
// thread makes it (the caller's own OpenMP setting is restored); OpenBLAS's thread count is process-wide.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace stfpm {

// The one exception type of the library.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- the recipe ---------------------------------------------------------------------------------------------

// Everything that defines a trained model and how it was trained; the defaults are the reference recipe.
// A checkpoint records all of it. recipe_fields() lists the fields by name (the command line's flags).
struct Recipe {
  int size = 256;                                      // images are resized to size x size
  std::vector<int> layers{1, 2, 3};                    // pyramid levels used, distinct, from 1 2 3
  std::vector<float> alphas{1.0f, 1.0f, 1.0f};         // loss weight per used level
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  // normalization (ImageNet's)
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
  float lr = 0.4f, momentum = 0.9f, weight_decay = 1e-4f;  // SGD, PyTorch semantics
  int batch_size = 32;                                 // images per step (the last partial batch is kept)
  int epochs = 100;
  uint64_t seed = 0;                                   // the student's initialization and the shuffling
};

// Throws Error naming the first bad field ("--lr must be a positive number").
void validate(const Recipe& recipe);

// One field of the recipe, by the name the command line, the checkpoint and the error messages use.
struct RecipeField {
  std::string name;                  // "size", "layers", "wd", ...
  std::vector<std::string> aliases;  // other accepted names ("weight_decay")
  std::string value_hint;            // "N", "L,..", "R,G,B", "X"
  std::string help;
  bool is_list;                      // takes several values ("1,2,3" or separate tokens)
  bool fixed_by_checkpoint;          // test and predict take it from the checkpoint (size, layers, mean, std)
};
const std::vector<RecipeField>& recipe_fields();
// Sets a field from text ("1,2,3", or the tokens "1" "2" "3"); throws Error ("--epochs: 'x' is not a valid
// number", "--batch_size must be at least 1") without changing the recipe.
void set_recipe_field(Recipe& recipe, const std::string& name, const std::vector<std::string>& values);
// The field's value as text ("1,2,3", "0.4").
std::string recipe_field_text(const Recipe& recipe, const std::string& name);

// ---- where the model runs -----------------------------------------------------------------------------------

enum class Device { automatic, cpu, cuda };  // automatic: cuda when this build has it and a GPU is present
Device device_from_name(const std::string& name);  // "cpu", "cuda" or "auto"; throws Error
bool cuda_available();

struct Runtime {
  Device device = Device::automatic;
  int threads = 0;      // CPU threads (0: all cores)
  bool tf32 = false;    // CUDA: allow TF32 tensor-core convolutions (default strict FP32)
  std::string teacher;  // the ImageNet teacher in HDF5; empty: find_teacher()
};

// The teacher file, looked up in this order:
//   1. `explicit_path` when not empty (Runtime::teacher, `--teacher`)
//   2. $STFPM_TEACHER
//   3. <model_folder>/teacher.h5, when a model folder is given (a self-contained model folder)
//   4. the installed data folder, <prefix>/share/stfpm/resnet18_imagenet.h5
//   5. weights/resnet18_imagenet.h5 and ../shared/weights/resnet18_imagenet.h5 under the current folder
// Throws Error naming the places tried and how to make the file.
std::string find_teacher(const std::string& explicit_path = "", const std::string& model_folder = "");

// ---- progress -----------------------------------------------------------------------------------------------

// Long work reports through an optional callback (the library itself prints nothing).
struct ProgressEvent {
  enum class Kind {
    message,  // `text` is a line for the log ("device: cpu (2 threads, ...)")
    update,   // `task` advanced to done of total `unit`s; `text` is a status ("loss/img 0.0123")
    finished  // `task` is complete
  };
  Kind kind = Kind::message;
  std::string task;  // "loading train images", "epoch 3/100", "training", "anomaly maps", ...
  std::string text;
  size_t done = 0, total = 0;
  std::string unit = "img";
};
using ProgressCallback = std::function<void(const ProgressEvent&)>;

// For a signal handler that ends the process at once (a second Ctrl-C): removes the temporary file an atomic
// write (checkpoint, report) has open at this moment, so nothing half-written is left. Async-signal-safe.
void remove_pending_file() noexcept;

// ---- a trained detector -------------------------------------------------------------------------------------

// A caller's 8-bit image, read in place (not kept after the call).
struct Image {
  const uint8_t* pixels = nullptr;  // row-major, channels interleaved
  int width = 0, height = 0;
  int channels = 3;                 // 1 (gray) or 3 (RGB)
  size_t row_stride = 0;            // bytes from one row to the next; 0: width * channels
};

struct PredictOptions {
  bool full_size_map = false;  // also return the map at the image's own size (Prediction::full_map)
  bool level_maps = false;     // also return the per-level maps (Prediction::level_maps)
  double threshold = NAN;      // image-score threshold; NaN: the detector's (Detector::image_threshold())
};

struct Prediction {
  float score = 0.0f;       // the image score: the maximum of the anomaly map
  bool anomalous = false;   // score >= threshold (false when the threshold is NaN)
  double threshold = NAN;   // the threshold applied
  // The readable score in [0, 1], 0.5 at the threshold: clamp((score - threshold) / (max - min) + 0.5, 0, 1)
  // with min and max the lowest and highest image scores of `stfpm test` (anomalib's normalization). NaN
  // without a threshold or without that range (thresholds.h5 from an older stfpm: run `stfpm test` again).
  float normalized_score = NAN;
  int map_size = 0;         // the map is map_size x map_size: the model's input size
  std::vector<float> map;   // (map_size, map_size), row-major: the product of the level maps
  std::vector<std::vector<float>> level_maps;  // one (map_size, map_size) map per used level, when asked
  int width = 0, height = 0;                   // the image's own size
  std::vector<float> full_map;                 // (height, width), bilinear from `map`, when asked
};

class Detector {
 public:
  // Loads a trained model folder (<model_dir>/<category>): student.h5, and thresholds.h5 when `stfpm test` has
  // written it (without it the image threshold is NaN unless PredictOptions::threshold is given). The teacher is
  // found by find_teacher(runtime.teacher, model_folder). `max_batch` bounds the images run at once.
  static Detector load(const std::string& model_folder, const Runtime& runtime = {}, int max_batch = 8);

  Detector(Detector&&) noexcept;
  Detector& operator=(Detector&&) noexcept;
  ~Detector();

  Prediction predict(const std::string& image_path, const PredictOptions& options = {});
  Prediction predict(const Image& image, const PredictOptions& options = {});
  std::vector<Prediction> predict(const std::vector<Image>& images, const PredictOptions& options = {});
  std::vector<Prediction> predict_files(const std::vector<std::string>& paths, const PredictOptions& options = {});

  const Recipe& recipe() const;   // the checkpoint's
  int epochs_trained() const;
  // The decision thresholds: the validation threshold of `train --val_split` when there is one, else the
  // F1-optimal thresholds `test` saved; NaN when there is neither.
  double image_threshold() const;
  double pixel_threshold() const;
  std::string threshold_source() const;  // where they come from, one phrase; empty when there are none
  std::string device() const;      // one line: the backend, its libraries and threads
  std::string teacher() const;     // the teacher file in use

 private:
  struct Impl;
  explicit Detector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---- training and evaluation (what the `stfpm` command runs) ---------------------------------------------

// Your own data instead of the MVTec layout, used when normal_dir is set (README "Data"):
struct FolderDataset {
  std::string normal_dir;                  // defect-free images, searched recursively: the training images
  std::vector<std::string> abnormal_dirs;  // defective test images: each subfolder a defect type (images directly
                                           // in the folder take the folder's name as their type)
  std::string mask_dir;                    // optional: masks <stem>.<ext> or <stem>_mask.<ext>, in mask_dir or in
                                           // mask_dir/<defect type>/; without it, only image-level metrics
  std::string normal_test_dir;             // defect-free test images; or, without it:
  double test_split = 0;                   // the fraction of normal_dir held out for testing (seeded: the recipe's
                                           // seed, so `test` later holds out the same images)
};

struct TrainConfig {
  std::string data_dir, category;        // MVTec AD layout: <data_dir>/<category>/train/good, test/, ground_truth/
  FolderDataset folders;                 // or your own folders (then data_dir is not used); category names the model
  std::string model_dir = "models";      // the checkpoint goes to <model_dir>/<category>/student.h5
  std::string results_dir = "results";   // checked writable before training (train is followed by test)
  Recipe recipe;
  Runtime runtime;
  bool resume = false;                   // continue from the checkpoint (exactly as an uninterrupted run)
  int checkpoint_every = 1;              // epochs between checkpoints (the last epoch is always saved)
  bool teacher_cache = true;             // compute the teacher's features of the training images once
  // Thresholds without defect labels (README "Thresholds"): a seeded fraction of the training images held out of
  // training; after training, their image scores give the decision threshold (validation.h5) that test, predict
  // and the Detector apply. The threshold is the val_quantile quantile of their scores (numpy.quantile's linear
  // method), or with max_fpr set the lowest threshold flagging at most that fraction of them.
  double val_split = 0;
  double val_quantile = 0.995;
  double max_fpr = NAN;
  // Polled between steps (may be empty): when it returns true, training saves a checkpoint at that step and
  // returns with TrainSummary::stopped; `resume` continues from that step exactly. Ctrl-C in the command.
  std::function<bool()> stop_requested;
};

struct TrainSummary {
  int epochs_run = 0, epochs_total = 0;
  double seconds = 0, seconds_per_epoch = 0, final_loss = 0;  // loss per image of the last epoch
  bool trained = false;   // false when the checkpoint was already done, or the run was stopped
  bool stopped = false;   // stop_requested() ended the run early (a checkpoint of that step is saved)
  std::string checkpoint;
  double validation_threshold = NAN;  // with val_split: the threshold chosen on the held-out images
  std::string validation_rule;        // "99.5th percentile of 8 held-out normal images"
};

// Trains the student (atomic checkpoint after every epoch; a NaN/Inf loss stops before the bad update and keeps
// the last good checkpoint).
TrainSummary train(const TrainConfig& config, const ProgressCallback& progress = nullptr);

// Recipe fields a caller requires of a checkpoint: those named in `fields` must equal `recipe`'s, else the call
// throws "<checkpoint>: checkpoint from another configuration: --size is 96 here but 64 in the checkpoint".
struct RecipeRequirement {
  Recipe recipe;
  std::vector<std::string> fields;
};

struct TestConfig {
  std::string data_dir, category;
  FolderDataset folders;                // as TrainConfig::folders
  std::string model_dir = "models", results_dir = "results";
  Runtime runtime;
  int batch_size = 32;
  std::string mask_rule = "strict255";  // or "ge128"
  bool save_maps = false;               // float TIFF maps at the original size (MVTec's evaluation layout)
  bool save_images = true;              // heatmap result images
  bool normalized_colors = false;       // colour their combined map by the normalized score (README "Reports")
  RecipeRequirement require;
};

struct Threshold {
  double threshold = NAN, f1 = NAN, precision = NAN, recall = NAN;
};

struct TestResult {
  double pixel_auroc = NAN, image_auroc = NAN, pixel_aupro = NAN;
  Threshold pixel_f1, image_f1;  // F1-optimal thresholds: fitted on the test set itself, so optimistic
  // The image threshold applied to the test images (scores.csv's `predicted`): the validation threshold when the
  // model has one, else image_f1's. threshold_source says which.
  double decision_threshold = NAN;
  std::string threshold_source;
  std::string mask_rule;
  int epochs = 0;                // of the checkpoint
  std::string results_folder;    // <results_dir>/<category>
};

// Writes <results_dir>/<category>/metrics.json, scores.csv, pro_curve.csv, images/ (and maps/), and saves the
// thresholds beside the checkpoint (thresholds.h5). `train`, when given, is recorded in metrics.json.
TestResult test_model(const TestConfig& config, const ProgressCallback& progress = nullptr,
                      const TrainSummary* train = nullptr);

struct PredictConfig {
  std::string images;    // a folder of images, one image, or a text file listing image paths
  std::string category;
  std::string model_dir = "models", results_dir = "results";
  Runtime runtime;
  int batch_size = 32;
  double threshold = NAN;  // NaN: the model's decision threshold (Detector::image_threshold)
  bool save_maps = false, save_images = true;
  bool normalized_colors = false;  // as TestConfig's
  RecipeRequirement require;
};

struct PredictedImage {
  std::string path;
  float score = 0.0f;
  bool anomalous = false;
  float normalized_score = NAN;  // as Prediction::normalized_score
};

struct PredictReport {
  std::vector<PredictedImage> images;
  double threshold = NAN;
  std::string threshold_source;  // as Detector::threshold_source, or "--threshold"
  std::string folder;  // <results_dir>/<category>/predict: predictions.csv, images/, maps/
};

PredictReport predict_images(const PredictConfig& config, const ProgressCallback& progress = nullptr);

struct EvaluateConfig {
  std::string data_dir, category;
  std::string maps_dir;                 // <maps_dir>/<category>/test/<defect>/<stem>.tiff
  std::string results_dir = "results";  // metrics go to <results_dir>/<category>/metrics_from_maps.json
  std::string mask_rule = "strict255";
};

struct EvaluateResult {
  double pixel_auroc = NAN, image_auroc = NAN, pixel_aupro = NAN;
  int width = 0, height = 0;
  std::string mask_rule, metrics_file;
};

// Metrics of saved TIFF maps (ours or any method's) at the original image size.
EvaluateResult evaluate_maps(const EvaluateConfig& config, const ProgressCallback& progress = nullptr);

// ---- profiling (what the `stfpm profile` command runs) ---------------------------------------------------

// N timed steps of one pass on random (or real) input, every Backend op timed (README "Profiling").
struct ProfileConfig {
  std::string pass = "infer";  // "infer": upload, teacher + student forward in eval mode, anomaly map, download
                               // "train": upload, one SGD step (teacher forward every step, no feature cache)
  int batch_size = 1, size = 256;
  int warmup = 2, steps = 10;  // untimed steps first, then timed ones
  std::string images;          // a folder, image or list file: decoded and resized every step; empty: random input
  Runtime runtime;             // the teacher is Runtime::teacher or find_teacher()'s, else random weights
  std::string csv, json;       // when set, the table is also written to these files
  bool by_op = false;          // one row per op, its layers together (a summary), instead of per op and layer
};

struct ProfileRow {
  std::string op;                  // "conv forward", "batchnorm backward", "image decode", ...
  std::string layer;               // "student.layer1.0.conv1"; empty for ops whose calls are not told apart
  double calls_per_step = 0;
  double median_ms = 0;            // per call
  double ms_per_step = 0;          // the calls' total time, per step
  double share = 0;                // ms_per_step / the step's time
  double gflops = NAN, gbps = NAN;  // the calls' work over their time (FLOPs: convolutions only)
  double ceiling_fraction = NAN;   // of the measured ceiling: sgemm GFLOP/s for convolutions, copy GB/s otherwise
};

struct ProfileReport {
  std::string pass, device;
  int batch_size = 0, size = 0, steps = 0;
  double step_ms = 0;              // mean wall time of a timed step
  double images_per_second = 0;
  // As many steps again (after as many warm-up steps) without timing each op: the step a run gets. The timed
  // steps run the teacher and the student one after the other, so that their ops are timed alone; a backend that
  // runs them side by side (the CPU's) does so here.
  double unprofiled_step_ms = 0, unprofiled_images_per_second = 0;
  double ceiling_gflops = 0;       // a 1x1 convolution of 1024 to 1024 channels over 32x32: a plain sgemm
  double ceiling_gbps = 0;         // a 128 MiB copy in backend memory (bytes read + written per second)
  // By ms_per_step, largest first; the last row, op "outside backend ops", is the step's time not spent in a
  // timed call, so the rows add up to step_ms.
  std::vector<ProfileRow> rows;
};

ProfileReport profile(const ProfileConfig& config, const ProgressCallback& progress = nullptr);

struct SyntheticConfig {
  std::string data_dir;
  std::string category = "synthetic";
  int size = 128;
  uint64_t seed = 1;
};

struct SyntheticSummary {
  int train = 0, test_good = 0, per_defect = 0, defect_types = 0, size = 0;
  std::string folder;
};

// The project's synthetic MVTec-layout dataset (a woven texture with scratch, spot and hole defects).
SyntheticSummary write_synthetic(const SyntheticConfig& config);

}  // namespace stfpm
