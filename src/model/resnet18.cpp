// The ResNet-18 trunk: the tensor table, parameters, initialization and HDF5 I/O.
// The forward and backward passes are in resnet18_passes.cpp.
#include "model/resnet18.h"

#include <cmath>
#include <random>
#include <stdexcept>

#include "io/hdf5_io.h"

namespace stfpm {

FeaturePair Features::pair(const Features& student, int level) const {
  return FeaturePair{data[size_t(level)], student.data[size_t(level)], dims[size_t(level)]};
}

ResNet18Trunk::ResNet18Trunk(Backend& backend) : backend_(backend) {
  // After two SGD steps at lr 0.4 the stem and layer1 are ill-conditioned: PyTorch's own float32 and float64
  // runs differ there by up to 4.3e-3 (relative to the largest change), so their update tolerance is looser.
  add_conv_bn("conv1", "bn1", 3, 64, 7, 2, 1e-2);
  int in_c = 64;
  const int widths[3] = {64, 128, 256};
  for (int layer = 0; layer < 3; ++layer) {
    const int out_c = widths[layer];
    const double tolerance = layer == 0 ? 1e-2 : 5e-4;
    for (int b = 0; b < 2; ++b) {
      const std::string p = "layer" + std::to_string(layer + 1) + "." + std::to_string(b) + ".";
      const int stride = (layer > 0 && b == 0) ? 2 : 1;
      Block block;
      block.conv1 = convs_.size();
      add_conv_bn(p + "conv1", p + "bn1", in_c, out_c, 3, stride, tolerance);
      block.conv2 = convs_.size();
      add_conv_bn(p + "conv2", p + "bn2", out_c, out_c, 3, 1, tolerance);
      if (stride != 1 || in_c != out_c) {
        block.downsample = int(convs_.size());
        add_conv_bn(p + "downsample.0", p + "downsample.1", in_c, out_c, 1, stride, tolerance);
      }
      blocks_.push_back(block);
      in_c = out_c;
    }
  }
  params_ = Buffer(backend_, param_count_);  // zeros until init_student() or load()
  stats_ = Buffer(backend_, stats_count_);
}

void ResNet18Trunk::add_conv_bn(const std::string& conv, const std::string& bn, int in_c, int out_c, int kernel,
                                int stride, double update_tolerance) {
  auto add = [&](const std::string& name, Shape shape, TensorRole role) {
    // Gradients after one step match PyTorch to ~1e-5 of their largest value; 1e-4 leaves a 10x margin.
    TensorEntry e{name, shape, role, 0, 1e-4, update_tolerance};
    size_t& counter = e.trainable() ? param_count_ : stats_count_;
    e.offset = counter;
    counter += size_t(shape.numel());
    table_.push_back(e);
    return table_.size() - 1;
  };
  ConvBn c;
  c.weight = add(conv + ".weight", Shape{out_c, in_c, kernel, kernel}, TensorRole::conv_weight);
  c.gamma = add(bn + ".weight", Shape{out_c}, TensorRole::bn_weight);
  c.beta = add(bn + ".bias", Shape{out_c}, TensorRole::bn_bias);
  c.mean = add(bn + ".running_mean", Shape{out_c}, TensorRole::bn_running_mean);
  c.var = add(bn + ".running_var", Shape{out_c}, TensorRole::bn_running_var);
  c.in_c = in_c;
  c.out_c = out_c;
  c.kernel = kernel;
  c.stride = stride;
  c.pad = kernel / 2;
  convs_.push_back(c);
}

const TensorEntry& ResNet18Trunk::entry(const std::string& name) const {
  for (const TensorEntry& e : table_)
    if (e.name == name) return e;
  throw std::invalid_argument("ResNet-18 trunk has no tensor '" + name + "'");
}

float* ResNet18Trunk::data_of(const TensorEntry& e) {
  return (e.trainable() ? params_.data() : stats_.data()) + e.offset;
}

void ResNet18Trunk::init_student(uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Box-Muller on the fully specified mt19937_64 stream: the same seed gives the same weights everywhere
  // (std::normal_distribution differs between standard libraries).
  auto normal = [&rng]() {
    const double u1 = (double(rng() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = double(rng() >> 11) * 0x1.0p-53;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  };
  for (const TensorEntry& e : table_) {
    HostTensor t(e.shape);
    switch (e.role) {
      case TensorRole::conv_weight: {
        const double fan_out = double(e.shape[0] * e.shape[2] * e.shape[3]);
        const double std = std::sqrt(2.0 / fan_out);  // kaiming_normal_(mode='fan_out', nonlinearity='relu')
        for (float& v : t.data) v = float(std * normal());
        break;
      }
      case TensorRole::bn_weight:
      case TensorRole::bn_running_var:
        std::fill(t.data.begin(), t.data.end(), 1.0f);
        break;
      case TensorRole::bn_bias:
      case TensorRole::bn_running_mean:
        break;  // zeros
    }
    set(e.name, t);
  }
}

// Weights must be float32 as stored (an integer or float64 file is another program's, and converting it silently
// could train garbage) and finite (a NaN would surface only later, as a NaN loss or NaN maps).
void ResNet18Trunk::load(const H5Reader& in, const std::string& prefix) {
  for (const TensorEntry& e : table_) {
    const std::string name = prefix + e.name;
    const std::string type = in.type_name(name);
    if (type != "float32")
      throw std::runtime_error(in.path() + ": tensor '" + name + "' is stored as " + type +
                               "; weights must be float32 (convert the file explicitly, see weights/README.md)");
    HostTensor t(e.shape);
    t.data = in.read_floats(name, e.shape);
    for (size_t i = 0; i < t.data.size(); ++i)
      if (!std::isfinite(t.data[i]))
        throw std::runtime_error(in.path() + ": tensor '" + name + "' holds " +
                                 (std::isnan(t.data[i]) ? "NaN" : "an infinite value") + " at element " +
                                 std::to_string(i));
    set(e.name, t);
  }
}

void ResNet18Trunk::save(H5Writer& out, const std::string& prefix) const {
  for (const TensorEntry& e : table_) out.write(prefix + e.name, get(e.name));
}

HostTensor ResNet18Trunk::get(const std::string& name) const {
  const TensorEntry& e = entry(name);
  HostTensor t(e.shape);
  const float* src = (e.trainable() ? params_.data() : stats_.data()) + e.offset;
  backend_.download(t.data.data(), src, t.data.size());
  return t;
}

void ResNet18Trunk::set(const std::string& name, const HostTensor& value) {
  const TensorEntry& e = entry(name);
  if (value.shape != e.shape)
    throw std::invalid_argument("tensor '" + name + "' has shape " + e.shape.str() + ", got " + value.shape.str());
  backend_.upload(data_of(e), value.data.data(), value.data.size());
}

void ResNet18Trunk::zero_grad() {
  if (grads_.size()) backend_.fill(grads_.data(), 0.0f, grads_.size());
}

}  // namespace stfpm
