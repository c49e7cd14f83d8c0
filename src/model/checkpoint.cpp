#include "model/checkpoint.h"

#include <cmath>

#include "io/hdf5_io.h"
#include "model/recipe.h"

namespace stfpm {
namespace {

const std::string kFormatPrefix = "stfpm-student-checkpoint-";
constexpr int kVersion = 2;
const std::string kMomentumGroup = "optimizer/momentum/";

}  // namespace

void save_checkpoint(const std::string& path, StfpmModel& model, const CheckpointInfo& info) {
  H5Writer out(path);
  model.student().save(out);
  ResNet18Trunk& s = model.student();
  std::vector<float> momentum(s.parameter_count());
  model.backend().download(momentum.data(), model.momentum(), momentum.size());
  for (const TensorEntry& e : s.tensors())
    if (e.trainable()) out.write(kMomentumGroup + e.name, e.shape, momentum.data() + e.offset);
  out.set_attr("format", kFormatPrefix + std::to_string(kVersion));
  out.set_attr("epoch", int64_t(info.epoch));
  out.set_attr("steps", int64_t(info.steps));
  out.set_attr("category", info.category);
  out.set_attr("teacher", info.teacher);
  out.set_attr("test_split", info.test_split);
  out.set_attr("val_split", info.val_split);
  write_recipe(out, info.recipe);
  out.commit();
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  const H5Reader in(path);
  const std::string format = in.has_attr("format") ? in.attr_string("format") : "";
  if (format.rfind(kFormatPrefix, 0) != 0)
    throw Error(path + ": not a stfpm student checkpoint (no format attribute '" + kFormatPrefix + "N')");
  const std::string version = format.substr(kFormatPrefix.size());
  if (version != "1" && version != "2")
    throw Error(path + ": checkpoint format version " + version + " is not known to this stfpm (it reads 1 and " +
                std::to_string(kVersion) + ")");
  CheckpointInfo i;
  i.version = std::stoi(version);
  i.recipe = read_recipe(in);
  // Version 1 recorded --alphas as given, so a run with --layers and no --alphas stored the default three weights
  // while training with one weight of 1 per used layer.
  if (i.version == 1 && i.recipe.alphas.size() != i.recipe.layers.size())
    i.recipe.alphas.assign(i.recipe.layers.size(), 1.0f);
  i.epoch = int(in.attr_int("epoch"));
  i.steps = long(in.attr_int("steps"));
  i.category = in.attr_string("category");
  i.teacher = in.attr_string("teacher");
  if (in.has_attr("test_split")) i.test_split = in.attr_double("test_split");  // older checkpoints: none
  if (in.has_attr("val_split")) i.val_split = in.attr_double("val_split");
  return i;
}

void load_checkpoint(const std::string& path, StfpmModel& model, bool with_optimizer) {
  const H5Reader in(path);
  model.student().load(in);
  if (!with_optimizer) return;
  ResNet18Trunk& s = model.student();
  std::vector<float> momentum(s.parameter_count());
  for (const TensorEntry& e : s.tensors()) {
    if (!e.trainable()) continue;
    const std::string name = kMomentumGroup + e.name;
    const std::vector<float> m = in.read_floats(name, e.shape);
    // A NaN here would surface steps later as a NaN loss; the student's own tensors are checked by its load.
    for (size_t i = 0; i < m.size(); ++i)
      if (!std::isfinite(m[i]))
        throw Error(path + ": tensor '" + name + "' holds " + (std::isnan(m[i]) ? "NaN" : "an infinite value") +
                    " at element " + std::to_string(i));
    std::copy(m.begin(), m.end(), momentum.begin() + long(e.offset));
  }
  model.backend().upload(model.momentum(), momentum.data(), momentum.size());
  model.set_steps(long(in.attr_int("steps")));
}

}  // namespace stfpm
