#include "cli/config.h"

#include <sys/stat.h>

#include <cstdlib>
#include <functional>
#include <sstream>

namespace stfpm {
namespace {

struct Option {
  std::vector<std::string> names;  // first is canonical (as in the reference: underscores); '-' variants accepted
  const char* value;               // placeholder in the help, or nullptr for a switch
  const char* help;
  const char* commands;            // where it applies, for the help ("*": everywhere)
  std::function<void(RunConfig&, const std::vector<std::string>&)> apply;
};

std::string flag_key(std::string s) {
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
}

template <typename T>
T parse_number(const std::string& flag, const std::string& text) {
  std::istringstream in(text);
  T value;
  if (!(in >> value) || !(in >> std::ws).eof())
    throw UsageError("--" + flag + ": '" + text + "' is not a valid number");
  return value;
}

// "1,2,3", or separate tokens "1 2 3".
std::vector<std::string> split_values(const std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  for (const std::string& t : tokens) {
    std::stringstream ss(t);
    for (std::string item; std::getline(ss, item, ',');)
      if (!item.empty()) out.push_back(item);
  }
  return out;
}

template <typename T>
std::vector<T> number_list(const std::string& flag, const std::vector<std::string>& tokens) {
  std::vector<T> out;
  for (const std::string& s : split_values(tokens)) out.push_back(parse_number<T>(flag, s));
  if (out.empty()) throw UsageError("--" + flag + " needs at least one value");
  return out;
}

void three_floats(const std::string& flag, const std::vector<std::string>& tokens, float* out) {
  const std::vector<float> v = number_list<float>(flag, tokens);
  if (v.size() != 3) throw UsageError("--" + flag + " needs 3 values (R G B), got " + std::to_string(v.size()));
  for (int i = 0; i < 3; ++i) out[i] = v[size_t(i)];
}

int positive(const std::string& flag, const std::string& text) {
  const int v = parse_number<int>(flag, text);
  if (v < 1) throw UsageError("--" + flag + " must be at least 1, got " + text);
  return v;
}

const std::vector<Option>& options() {
  using V = const std::vector<std::string>&;
  static const std::vector<Option> table = {
      {{"mode"}, "MODE", "train | test | predict (the reference's style; same as the subcommand)", "*",
       [](RunConfig& c, V v) { c.command = v[0]; }},
      {{"data_dir"}, "DIR", "MVTec AD root: DIR/<category>/train/good, test/<defect>, ground_truth/...",
       "train test evaluate synth", [](RunConfig& c, V v) { c.data_dir = v[0]; }},
      {{"category"}, "NAME", "the category folder under --data_dir (e.g. bottle)", "*",
       [](RunConfig& c, V v) { c.category = v[0]; }},
      {{"model_dir"}, "DIR", "checkpoints go to DIR/<category>/student.h5 (default models)", "train test predict",
       [](RunConfig& c, V v) { c.model_dir = v[0]; }},
      {{"results_dir"}, "DIR", "reports go to DIR/<category>/ (default results)", "train test predict",
       [](RunConfig& c, V v) { c.results_dir = v[0]; }},
      {{"teacher"}, "FILE", "ImageNet ResNet-18 teacher in HDF5 (default: weights/ or ../shared/weights/)",
       "train test predict", [](RunConfig& c, V v) { c.teacher = v[0]; }},
      {{"images"}, "PATH", "predict: a folder of images, one image, or a text file listing image paths", "predict",
       [](RunConfig& c, V v) { c.images = v[0]; }},
      {{"maps", "maps_dir"}, "DIR", "evaluate: folder with <category>/test/<defect>/<stem>.tiff", "evaluate",
       [](RunConfig& c, V v) { c.maps_dir = v[0]; }},
      {{"epochs"}, "N", "training epochs (default 100)", "train",
       [](RunConfig& c, V v) { c.epochs = positive("epochs", v[0]); }},
      {{"batch_size"}, "N", "images per step (default 32; the last partial batch is kept)", "train test predict",
       [](RunConfig& c, V v) { c.batch_size = positive("batch_size", v[0]); }},
      {{"size"}, "PX", "images are resized to PX x PX (default 256; synth: image size, default 128)", "*",
       [](RunConfig& c, V v) { c.size = positive("size", v[0]); }},
      {{"lr"}, "X", "SGD learning rate (default 0.4)", "train",
       [](RunConfig& c, V v) { c.lr = parse_number<float>("lr", v[0]); }},
      {{"momentum"}, "X", "SGD momentum (default 0.9)", "train",
       [](RunConfig& c, V v) { c.momentum = parse_number<float>("momentum", v[0]); }},
      {{"wd", "weight_decay"}, "X", "SGD weight decay (default 1e-4)", "train",
       [](RunConfig& c, V v) { c.weight_decay = parse_number<float>("wd", v[0]); }},
      {{"layers"}, "L,..", "pyramid levels used, from 1 2 3 (default 1,2,3)", "train test predict",
       [](RunConfig& c, V v) { c.layers = number_list<int>("layers", v); }},
      {{"alphas"}, "A,..", "loss weight per used level (default 1,1,1)", "train",
       [](RunConfig& c, V v) { c.alphas = number_list<float>("alphas", v); }},
      {{"mean"}, "R,G,B", "normalization mean (default ImageNet's 0.485,0.456,0.406)", "train test predict",
       [](RunConfig& c, V v) { three_floats("mean", v, c.mean); }},
      {{"std"}, "R,G,B", "normalization std (default ImageNet's 0.229,0.224,0.225)", "train test predict",
       [](RunConfig& c, V v) { three_floats("std", v, c.std); }},
      {{"seed"}, "N", "seed of the student's initialization and the shuffling (default 0)", "train synth",
       [](RunConfig& c, V v) { c.seed = parse_number<unsigned long long>("seed", v[0]); }},
      {{"device"}, "cpu|cuda", "where the model runs (default: cuda when a GPU is present)", "train test predict",
       [](RunConfig& c, V v) { c.device = v[0]; }},
      {{"threads"}, "N", "CPU threads (default: all cores)", "train test predict",
       [](RunConfig& c, V v) { c.threads = positive("threads", v[0]); }},
      {{"tf32"}, nullptr, "CUDA: allow TF32 tensor-core convolutions (default strict FP32)", "train test predict",
       [](RunConfig& c, V) { c.tf32 = true; }},
      {{"resume"}, nullptr, "train: continue from the checkpoint in --model_dir", "train",
       [](RunConfig& c, V) { c.resume = true; }},
      {{"checkpoint_every"}, "N", "train: save the checkpoint every N epochs (default 1)", "train",
       [](RunConfig& c, V v) { c.checkpoint_every = positive("checkpoint_every", v[0]); }},
      {{"no_teacher_cache"}, nullptr, "train: run the teacher every step instead of caching its features once",
       "train", [](RunConfig& c, V) { c.teacher_cache = false; }},
      {{"mask_rule"}, "RULE", "strict255 (reference: only 255 after resizing is a defect, default) or ge128",
       "train test evaluate", [](RunConfig& c, V v) { c.mask_rule = v[0]; }},
      {{"save_maps"}, nullptr, "also write float32 TIFF maps at the original image size (MVTec layout)",
       "train test predict", [](RunConfig& c, V) { c.save_maps = true; }},
      {{"no_images"}, nullptr, "do not write the heatmap result images", "train test predict",
       [](RunConfig& c, V) { c.save_images = false; }},
      {{"threshold"}, "X", "predict: image-score threshold (default: the F1-optimal one saved by test)",
       "predict", [](RunConfig& c, V v) { c.threshold = parse_number<float>("threshold", v[0]); }},
  };
  return table;
}

const Option* find_option(const std::string& key) {
  for (const Option& o : options())
    for (const std::string& n : o.names)
      if (n == key) return &o;
  return nullptr;
}

std::string help_for(const std::string& command) {
  std::ostringstream out;
  if (command.empty()) {
    out << "usage: stfpm <command> [options]      (or the reference's: stfpm --mode train|test [options])\n\n"
           "STFPM anomaly detection (student-teacher feature pyramid matching) without a deep-learning framework.\n\n"
           "commands:\n"
           "  train     train the student on <data_dir>/<category>/train/good, then test it\n"
           "  test      evaluate a trained student on the test split: metrics, scores, result images\n"
           "  predict   anomaly maps, scores and decisions for new images (no ground truth needed)\n"
           "  evaluate  metrics of saved TIFF anomaly maps against the ground truth\n"
           "  synth     write the project's synthetic MVTec-layout dataset\n\n"
           "`stfpm <command> --help` lists the options of a command.\n";
    return out.str();
  }
  out << "usage: stfpm " << command << " [options]\n\noptions:\n";
  for (const Option& o : options()) {
    const std::string where = o.commands;
    if (o.names[0] == "mode" || (where != "*" && (" " + where + " ").find(" " + command + " ") == std::string::npos))
      continue;
    std::string left = "--" + o.names[0] + (o.value ? std::string(" ") + o.value : "");
    out << "  " << left << std::string(left.size() < 24 ? 24 - left.size() : 1, ' ') << o.help << "\n";
  }
  return out.str();
}

bool is_file(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

std::string RunConfig::category_model_dir() const { return model_dir + "/" + category; }
std::string RunConfig::checkpoint_path() const { return category_model_dir() + "/student.h5"; }
std::string RunConfig::calibration_path() const { return category_model_dir() + "/thresholds.h5"; }
std::string RunConfig::category_results_dir() const { return results_dir + "/" + category; }

RunConfig parse_command_line(int argc, char** argv, std::string* help_text) {
  RunConfig c;
  bool help = false;
  int i = 1;
  if (i < argc && argv[i][0] != '-') c.command = argv[i++];
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + arg + "'");
    std::string key = flag_key(arg.substr(2)), inline_value;
    const bool has_inline = key.find('=') != std::string::npos;
    if (has_inline) {
      inline_value = arg.substr(arg.find('=') + 1);
      key = key.substr(0, key.find('='));
    }
    const Option* opt = find_option(key);
    if (!opt) throw UsageError("unknown option --" + key);
    std::vector<std::string> values;
    if (opt->value) {
      if (has_inline) {
        values.push_back(inline_value);
      } else {
        // Lists may also come as separate tokens (argparse's nargs='+'): take all until the next flag.
        const bool list = key == "layers" || key == "alphas" || key == "mean" || key == "std";
        while (i + 1 < argc && (std::string(argv[i + 1]).rfind("--", 0) != 0 || values.empty())) {
          values.push_back(argv[++i]);
          if (!list) break;
        }
        if (values.empty()) throw UsageError("--" + key + " needs a value (" + opt->value + ")");
      }
    } else if (has_inline) {
      throw UsageError("--" + key + " takes no value");
    }
    opt->apply(c, values);
    c.given.insert(opt->names[0]);
  }
  static const std::set<std::string> commands = {"train", "test", "predict", "evaluate", "synth"};
  if (help) {
    *help_text = help_for(commands.count(c.command) ? c.command : "");
    return c;
  }
  if (c.command.empty()) throw UsageError("no command (train, test, predict, evaluate or synth)");
  if (!commands.count(c.command)) throw UsageError("unknown command '" + c.command + "'");
  return c;
}

std::string teacher_path(const RunConfig& config) {
  if (!config.teacher.empty()) {
    if (!is_file(config.teacher)) throw std::runtime_error(config.teacher + ": teacher file not found (--teacher)");
    return config.teacher;
  }
  if (const char* env = std::getenv("STFPM_TEACHER")) {
    if (!is_file(env)) throw std::runtime_error(std::string(env) + ": teacher file not found ($STFPM_TEACHER)");
    return env;
  }
  const std::string name = "resnet18_imagenet.h5";
  const std::vector<std::string> places = {
      std::string(STFPM_SOURCE_DIR) + "/weights/" + name, std::string(STFPM_SOURCE_DIR) + "/../shared/weights/" + name,
      "weights/" + name, "../shared/weights/" + name};
  std::string tried;
  for (const std::string& p : places) {
    if (is_file(p)) return p;
    tried += (tried.empty() ? "" : ", ") + p;
  }
  throw std::runtime_error("no teacher weights found (tried " + tried +
                           "); pass --teacher FILE or convert torchvision's resnet18-f37072fd.pth with "
                           "tools/convert_weights.py (see weights/README.md)");
}

}  // namespace stfpm
