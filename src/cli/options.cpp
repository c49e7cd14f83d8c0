#include "options.h"

#include <filesystem>
#include <functional>
#include <sstream>
#include <vector>

namespace stfpm {
namespace {

struct Option {
  std::vector<std::string> names;  // first is canonical (as in the reference: underscores); '-' variants accepted
  std::string value;               // placeholder in the help; empty for a switch
  std::string help;
  std::string commands;            // where it applies, for the help ("*": everywhere)
  bool list;                       // takes several tokens ("1 2 3") until the next flag
  std::function<void(CommandLine&, const std::vector<std::string>&)> apply;
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

int positive(const std::string& flag, const std::string& text) {
  const int v = parse_number<int>(flag, text);
  if (v < 1) throw UsageError("--" + flag + " must be at least 1, got " + text);
  return v;
}

// Where a recipe flag applies, for the help: the fields a checkpoint fixes (and the batch size) in every command
// that runs the model, the training-only ones in train.
std::string recipe_commands(const RecipeField& f) {
  if (f.name == "size") return "*";
  if (f.name == "seed") return "train synth";
  if (f.name == "batch_size") return "train test predict profile";
  if (f.fixed_by_checkpoint) return "train test predict";
  return "train";
}

std::vector<Option> build_options() {
  using V = const std::vector<std::string>&;
  std::vector<Option> table = {
      {{"mode"}, "MODE", "train | test | predict (the reference's style; same as the subcommand)", "*", false,
       [](CommandLine& c, V v) { c.command = v[0]; }},
      {{"data_dir"}, "DIR", "MVTec AD root: DIR/<category>/train/good, test/<defect>, ground_truth/...",
       "train test evaluate synth", false, [](CommandLine& c, V v) { c.data_dir = v[0]; }},
      {{"category"}, "NAME",
       "the category folder under --data_dir (e.g. bottle); with --normal_dir the model's name (default: that "
       "folder's name)", "*", false, [](CommandLine& c, V v) { c.category = v[0]; }},
      {{"normal_dir"}, "DIR", "your own data instead of --data_dir: defect-free images (recursive) to train on",
       "train test", false, [](CommandLine& c, V v) { c.folders.normal_dir = v[0]; }},
      {{"abnormal_dir"}, "DIR", "defective test images, one subfolder per defect type (repeat or list for several)",
       "train test", true,
       [](CommandLine& c, V v) { c.folders.abnormal_dirs.insert(c.folders.abnormal_dirs.end(), v.begin(), v.end()); }},
      {{"mask_dir"}, "DIR", "masks of the defective images: <stem>.* or <stem>_mask.*, flat or per defect type "
       "(optional; without it only image-level metrics)", "train test", false,
       [](CommandLine& c, V v) { c.folders.mask_dir = v[0]; }},
      {{"normal_test_dir"}, "DIR", "defect-free test images (or --test_split)", "train test", false,
       [](CommandLine& c, V v) { c.folders.normal_test_dir = v[0]; }},
      {{"test_split"}, "F", "the fraction of --normal_dir held out as normal test images (seeded by --seed)",
       "train test", false, [](CommandLine& c, V v) {
         const double f = parse_number<double>("test_split", v[0]);
         if (!(f > 0 && f < 1)) throw UsageError("--test_split must be between 0 and 1, got " + v[0]);
         c.folders.test_split = f;
       }},
      {{"model_dir"}, "DIR", "checkpoints go to DIR/<category>/student.h5 (default models)", "train test predict",
       false, [](CommandLine& c, V v) { c.model_dir = v[0]; }},
      {{"results_dir"}, "DIR", "reports go to DIR/<category>/ (default results)", "train test predict evaluate",
       false, [](CommandLine& c, V v) { c.results_dir = v[0]; }},
      {{"teacher"}, "FILE", "ImageNet ResNet-18 teacher in HDF5 (default: $STFPM_TEACHER, then the installed copy)",
       "train test predict profile", false, [](CommandLine& c, V v) { c.runtime.teacher = v[0]; }},
      {{"images"}, "PATH", "predict: a folder of images, one image, or a text file listing image paths (profile: "
       "decoded every step instead of random input)", "predict profile",
       false, [](CommandLine& c, V v) { c.images = v[0]; }},
      {{"maps", "maps_dir"}, "DIR", "evaluate: folder with <category>/test/<defect>/<stem>.tiff", "evaluate", false,
       [](CommandLine& c, V v) { c.maps_dir = v[0]; }},
  };
  for (const RecipeField& f : recipe_fields()) {
    std::vector<std::string> names{f.name};
    names.insert(names.end(), f.aliases.begin(), f.aliases.end());
    const std::string name = f.name;
    table.push_back({names, f.value_hint, f.help, recipe_commands(f), f.is_list, [name](CommandLine& c, V v) {
                       try {
                         set_recipe_field(c.recipe, name, v);
                       } catch (const Error& e) {
                         throw UsageError(e.what());
                       }
                     }});
  }
  const std::vector<Option> rest = {
      {{"device"}, "cpu|cuda", "where the model runs (default: cuda when a GPU is present)",
       "train test predict profile",
       false,
       [](CommandLine& c, V v) {
         try {
           c.runtime.device = device_from_name(v[0]);
         } catch (const Error& e) {
           throw UsageError(std::string("--device: ") + e.what());
         }
       }},
      {{"threads"}, "N", "CPU threads (default: all cores)", "train test predict profile", false,
       [](CommandLine& c, V v) { c.runtime.threads = positive("threads", v[0]); }},
      {{"tf32"}, "", "CUDA: allow TF32 tensor-core convolutions (default strict FP32)", "train test predict profile",
       false,
       [](CommandLine& c, V) { c.runtime.tf32 = true; }},
      {{"resume"}, "", "train: continue from the checkpoint in --model_dir", "train", false,
       [](CommandLine& c, V) { c.resume = true; }},
      {{"checkpoint_every"}, "N", "train: save the checkpoint every N epochs (default 1)", "train", false,
       [](CommandLine& c, V v) { c.checkpoint_every = positive("checkpoint_every", v[0]); }},
      {{"no_teacher_cache"}, "", "train: run the teacher every step instead of caching its features once", "train",
       false, [](CommandLine& c, V) { c.teacher_cache = false; }},
      {{"val_split"}, "F",
       "train: hold this fraction of the training images out of training and choose the decision threshold on "
       "them (no defect labels needed; seeded by --seed)", "train", false, [](CommandLine& c, V v) {
         const double f = parse_number<double>("val_split", v[0]);
         if (!(f > 0 && f < 1)) throw UsageError("--val_split must be between 0 and 1, got " + v[0]);
         c.val_split = f;
       }},
      {{"val_quantile"}, "Q", "train: the validation threshold is this quantile of the held-out scores (default "
       "0.995, the 99.5th percentile)", "train", false, [](CommandLine& c, V v) {
         const double q = parse_number<double>("val_quantile", v[0]);
         if (!(q >= 0 && q <= 1)) throw UsageError("--val_quantile must be between 0 and 1, got " + v[0]);
         c.val_quantile = q;
       }},
      {{"max_fpr"}, "F", "train: instead, the lowest threshold flagging at most this fraction of the held-out "
       "images", "train", false, [](CommandLine& c, V v) {
         const double f = parse_number<double>("max_fpr", v[0]);
         if (!(f >= 0 && f < 1)) throw UsageError("--max_fpr must be in [0, 1), got " + v[0]);
         c.max_fpr = f;
       }},
      {{"mask_rule"}, "RULE", "strict255 (reference: only 255 after resizing is a defect, default) or ge128",
       "train test evaluate", false,
       [](CommandLine& c, V v) {
         if (v[0] != "strict255" && v[0] != "ge128")
           throw UsageError("--mask_rule: unknown mask rule '" + v[0] + "' (expected strict255 or ge128)");
         c.mask_rule = v[0];
       }},
      {{"save_maps"}, "", "also write float32 TIFF maps at the original image size (MVTec layout)",
       "train test predict", false, [](CommandLine& c, V) { c.save_maps = true; }},
      {{"no_images"}, "", "do not write the heatmap result images", "train test predict", false,
       [](CommandLine& c, V) { c.save_images = false; }},
      {{"normalized_colors"}, "", "colour the combined map of result images by the normalized score (the "
       "threshold mid-scale, the test score range across it) instead of 0 to the 99.9th percentile",
       "train test predict", false, [](CommandLine& c, V) { c.normalized_colors = true; }},
      {{"pass"}, "train|infer", "profile: the pass to time (default infer)", "profile", false,
       [](CommandLine& c, V v) {
         if (v[0] != "train" && v[0] != "infer") throw UsageError("--pass must be train or infer, got " + v[0]);
         c.pass = v[0];
       }},
      {{"steps"}, "N", "profile: timed steps (default 10)", "profile", false,
       [](CommandLine& c, V v) { c.steps = positive("steps", v[0]); }},
      {{"warmup"}, "N", "profile: untimed steps first (default 2)", "profile", false,
       [](CommandLine& c, V v) {
         c.warmup = parse_number<int>("warmup", v[0]);
         if (c.warmup < 0) throw UsageError("--warmup must be 0 or more, got " + v[0]);
       }},
      {{"by_op"}, "", "profile: one row per op (its layers together) instead of per op and layer", "profile", false,
       [](CommandLine& c, V) { c.by_op = true; }},
      {{"csv"}, "FILE", "profile: also write the table as CSV", "profile", false,
       [](CommandLine& c, V v) { c.csv = v[0]; }},
      {{"json"}, "FILE", "profile: also write the table as JSON", "profile", false,
       [](CommandLine& c, V v) { c.json = v[0]; }},
      {{"threshold"}, "X", "predict: image-score threshold (default: the model's, from --val_split or else the F1-optimal one of test)", "predict",
       false, [](CommandLine& c, V v) { c.threshold = parse_number<float>("threshold", v[0]); }},
  };
  table.insert(table.end(), rest.begin(), rest.end());
  return table;
}

const std::vector<Option>& options() {
  static const std::vector<Option> table = build_options();
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
           "  synth     write the project's synthetic MVTec-layout dataset\n"
           "  profile   time every op of a train or inference step (--pass), per layer\n\n"
           "`stfpm <command> --help` lists the options of a command.\n";
    return out.str();
  }
  out << "usage: stfpm " << command << " [options]\n\noptions:\n";
  for (const Option& o : options()) {
    const std::string where = o.commands;
    if (o.names[0] == "mode" || (where != "*" && (" " + where + " ").find(" " + command + " ") == std::string::npos))
      continue;
    std::string left = "--" + o.names[0] + (o.value.empty() ? "" : " " + o.value);
    out << "  " << left << std::string(left.size() < 24 ? 24 - left.size() : 1, ' ') << o.help << "\n";
  }
  return out.str();
}

}  // namespace

CommandLine parse_command_line(int argc, char** argv, std::string* help_text) {
  CommandLine c;
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
    if (!opt->value.empty()) {
      if (has_inline) {
        values.push_back(inline_value);
      } else {
        // Lists may also come as separate tokens (argparse's nargs='+'): take all until the next flag.
        const bool list = opt->list;
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
  static const std::set<std::string> commands = {"train", "test", "predict", "evaluate", "synth", "profile"};
  if (help) {
    *help_text = help_for(commands.count(c.command) ? c.command : "");
    return c;
  }
  if (c.category.empty() && !c.folders.normal_dir.empty()) {
    // The model of a folder dataset is named after its normal folder unless --category names it.
    std::filesystem::path dir = std::filesystem::path(c.folders.normal_dir).lexically_normal();
    if (dir.filename().empty()) dir = dir.parent_path();  // "normal/" -> "normal"
    c.category = dir.filename().string();
    if (c.category.empty() || c.category == "." || c.category == "..")
      throw UsageError("--normal_dir " + c.folders.normal_dir + " gives the model no name: add --category NAME");
  }
  if ((c.was_given("val_quantile") || c.was_given("max_fpr")) && !c.was_given("val_split"))
    throw UsageError("--val_quantile and --max_fpr choose the threshold on the --val_split images: add --val_split F");
  if (c.was_given("val_quantile") && c.was_given("max_fpr"))
    throw UsageError("give --val_quantile or --max_fpr, not both");
  if (c.command.empty()) throw UsageError("no command (train, test, predict, evaluate, synth or profile)");
  if (!commands.count(c.command)) throw UsageError("unknown command '" + c.command + "'");
  return c;
}

namespace {

// Recipe fields the user gave that a checkpoint fixes: test and predict require the checkpoint to agree.
RecipeRequirement requirement_of(const CommandLine& c) {
  RecipeRequirement r{c.recipe, {}};
  for (const RecipeField& f : recipe_fields())
    if (f.fixed_by_checkpoint && c.was_given(f.name)) r.fields.push_back(f.name);
  return r;
}

// What test and predict share: the model folder, where reports go, how the model runs, and what the checkpoint
// must agree with.
template <typename Config>
Config model_run(const CommandLine& c) {
  Config r;
  r.category = c.category;
  r.model_dir = c.model_dir;
  r.results_dir = c.results_dir;
  r.runtime = c.runtime;
  r.batch_size = c.recipe.batch_size;
  r.save_maps = c.save_maps;
  r.save_images = c.save_images;
  r.normalized_colors = c.normalized_colors;
  r.require = requirement_of(c);
  return r;
}

}  // namespace

TrainConfig CommandLine::train_config() const {
  TrainConfig t;
  t.data_dir = data_dir;
  t.category = category;
  t.folders = folders;
  t.model_dir = model_dir;
  t.results_dir = results_dir;
  t.recipe = recipe;
  // --layers without --alphas: weight 1 each, as the reference's default alphas.
  if (!was_given("alphas") && t.recipe.alphas.size() != t.recipe.layers.size())
    t.recipe.alphas.assign(t.recipe.layers.size(), 1.0f);
  t.runtime = runtime;
  t.resume = resume;
  t.checkpoint_every = checkpoint_every;
  t.teacher_cache = teacher_cache;
  t.val_split = val_split;
  t.val_quantile = val_quantile;
  t.max_fpr = max_fpr;
  return t;
}

TestConfig CommandLine::test_config() const {
  TestConfig t = model_run<TestConfig>(*this);
  t.data_dir = data_dir;
  t.folders = folders;
  t.mask_rule = mask_rule;
  return t;
}

PredictConfig CommandLine::predict_config() const {
  PredictConfig p = model_run<PredictConfig>(*this);
  p.images = images;
  p.threshold = threshold;
  return p;
}

EvaluateConfig CommandLine::evaluate_config() const {
  EvaluateConfig e;
  e.data_dir = data_dir;
  e.category = category;
  e.maps_dir = maps_dir;
  e.results_dir = results_dir;
  e.mask_rule = mask_rule;
  return e;
}

ProfileConfig CommandLine::profile_config() const {
  ProfileConfig p;
  p.pass = pass;
  p.batch_size = was_given("batch_size") ? recipe.batch_size : 1;  // one image at a time unless asked
  p.size = recipe.size;
  p.warmup = warmup;
  p.steps = steps;
  p.images = images;
  p.runtime = runtime;
  p.csv = csv;
  p.json = json;
  p.by_op = by_op;
  return p;
}

SyntheticConfig CommandLine::synthetic_config() const {
  SyntheticConfig s;
  s.data_dir = data_dir;
  if (!category.empty()) s.category = category;
  if (was_given("size")) s.size = recipe.size;  // synth's own defaults otherwise (128 px, seed 1)
  if (was_given("seed")) s.seed = recipe.seed;
  return s;
}

}  // namespace stfpm
