#include "model/checkpoint.h"

#include <sstream>
#include <stdexcept>

#include "io/hdf5_io.h"

namespace stfpm {
namespace {

constexpr const char* kFormat = "stfpm-student-checkpoint-1";
const std::string kMomentumGroup = "optimizer/momentum/";

template <typename T>
std::string join(const T* v, size_t n) {
  std::ostringstream out;
  for (size_t i = 0; i < n; ++i) out << (i ? "," : "") << v[i];
  return out.str();
}

}  // namespace

std::string join_list(const std::vector<int>& v) { return join(v.data(), v.size()); }
std::string join_list(const std::vector<float>& v) { return join(v.data(), v.size()); }
std::string join_list(const float (&v)[3]) { return join(v, 3); }

CheckpointInfo checkpoint_info(const RunConfig& c, int epoch, long steps, const std::string& teacher) {
  CheckpointInfo i;
  i.epoch = epoch;
  i.steps = steps;
  i.epochs = c.epochs;
  i.batch_size = c.batch_size;
  i.size = c.size;
  i.seed = c.seed;
  i.layers = join_list(c.layers);
  i.alphas = join_list(c.alphas);
  i.mean = join_list(c.mean);
  i.std = join_list(c.std);
  i.lr = c.lr;
  i.momentum = c.momentum;
  i.weight_decay = c.weight_decay;
  i.category = c.category;
  i.teacher = teacher;
  return i;
}

void save_checkpoint(const std::string& path, StfpmModel& model, const CheckpointInfo& info) {
  H5Writer out(path);
  model.student().save(out);
  ResNet18Trunk& s = model.student();
  std::vector<float> momentum(s.parameter_count());
  model.backend().download(momentum.data(), model.momentum(), momentum.size());
  for (const TensorEntry& e : s.tensors())
    if (e.trainable()) out.write(kMomentumGroup + e.name, e.shape, momentum.data() + e.offset);
  out.set_attr("format", std::string(kFormat));
  out.set_attr("epoch", int64_t(info.epoch));
  out.set_attr("steps", int64_t(info.steps));
  out.set_attr("epochs", int64_t(info.epochs));
  out.set_attr("batch_size", int64_t(info.batch_size));
  out.set_attr("size", int64_t(info.size));
  out.set_attr("seed", std::to_string(info.seed));
  out.set_attr("layers", info.layers);
  out.set_attr("alphas", info.alphas);
  out.set_attr("mean", info.mean);
  out.set_attr("std", info.std);
  out.set_attr("lr", double(info.lr));
  out.set_attr("momentum", double(info.momentum));
  out.set_attr("weight_decay", double(info.weight_decay));
  out.set_attr("category", info.category);
  out.set_attr("teacher", info.teacher);
  out.commit();
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  const H5Reader in(path);
  if (!in.has_attr("format") || in.attr_string("format") != kFormat)
    throw std::runtime_error(path + ": not a stfpm student checkpoint (no format attribute '" + kFormat + "')");
  CheckpointInfo i;
  i.epoch = int(in.attr_int("epoch"));
  i.steps = long(in.attr_int("steps"));
  i.epochs = int(in.attr_int("epochs"));
  i.batch_size = int(in.attr_int("batch_size"));
  i.size = int(in.attr_int("size"));
  i.seed = std::stoull(in.attr_string("seed"));
  i.layers = in.attr_string("layers");
  i.alphas = in.attr_string("alphas");
  i.mean = in.attr_string("mean");
  i.std = in.attr_string("std");
  i.lr = float(in.attr_double("lr"));
  i.momentum = float(in.attr_double("momentum"));
  i.weight_decay = float(in.attr_double("weight_decay"));
  i.category = in.attr_string("category");
  i.teacher = in.attr_string("teacher");
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
    const std::vector<float> m = in.read_floats(kMomentumGroup + e.name, e.shape);
    std::copy(m.begin(), m.end(), momentum.begin() + long(e.offset));
  }
  model.backend().upload(model.momentum(), momentum.data(), momentum.size());
  model.set_steps(long(in.attr_int("steps")));
}

namespace {
std::string text(float v) {
  std::ostringstream out;
  out << v;
  return out.str();
}
}  // namespace

void check_resumable(const std::string& path, const CheckpointInfo& saved, const CheckpointInfo& wanted) {
  auto differ = [&](const std::string& field, const std::string& here, const std::string& there) {
    if (here != there)
      throw std::runtime_error(path + ": checkpoint from another configuration: " + field + " is " + here +
                               " here but " + there + " in the checkpoint");
  };
  differ("category", wanted.category, saved.category);
  differ("--batch_size", std::to_string(wanted.batch_size), std::to_string(saved.batch_size));
  differ("--size", std::to_string(wanted.size), std::to_string(saved.size));
  differ("--seed", std::to_string(wanted.seed), std::to_string(saved.seed));
  differ("--layers", wanted.layers, saved.layers);
  differ("--alphas", wanted.alphas, saved.alphas);
  differ("--mean", wanted.mean, saved.mean);
  differ("--std", wanted.std, saved.std);
  differ("--lr", text(wanted.lr), text(saved.lr));
  differ("--momentum", text(wanted.momentum), text(saved.momentum));
  differ("--wd", text(wanted.weight_decay), text(saved.weight_decay));
}

}  // namespace stfpm
