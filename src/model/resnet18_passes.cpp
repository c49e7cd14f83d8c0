// The ResNet-18 trunk: memory planning, forward and backward, written once for any backend.
//
// In a training plan each ConvBn unit keeps z (conv output = BatchNorm input) and a (BatchNorm output, ReLU in
// place); a block's output is its conv2 unit's `a` after the residual add and ReLU. The backward walks the
// blocks in reverse with four scratch buffers of the largest activation size. An eval-only plan keeps nothing
// for a backward pass: its units share a few buffers (EvalBuffers below).
#include <algorithm>
#include <stdexcept>
#include <utility>

#include "model/resnet18.h"

namespace stfpm {

std::vector<ConvGeometry> ResNet18Trunk::geometries(int n, int height, int width, PoolGeometry* pool) const {
  std::vector<ConvGeometry> geoms(convs_.size());
  auto make = [&](size_t i, int h, int w) {
    const ConvBn& c = convs_[i];
    ConvGeometry g{n, c.in_c, h, w, c.out_c, c.kernel, c.kernel, c.stride, c.pad};
    if (g.out_h() < 1 || g.out_w() < 1)
      throw std::invalid_argument("input " + std::to_string(height) + "x" + std::to_string(width) +
                                  " is too small for the ResNet-18 trunk");
    geoms[i] = g;
    return g;
  };
  const ConvGeometry stem = make(0, height, width);
  *pool = PoolGeometry{n, stem.k, stem.out_h(), stem.out_w(), 3, 2, 1};
  int h = pool->out_h(), w = pool->out_w();
  for (const Block& b : blocks_) {
    const ConvGeometry c1 = make(b.conv1, h, w);
    make(b.conv2, c1.out_h(), c1.out_w());
    if (b.downsample >= 0) make(size_t(b.downsample), h, w);  // reads the block input
    h = c1.out_h();
    w = c1.out_w();
  }
  return geoms;
}

std::array<Dims, 3> ResNet18Trunk::feature_dims(int n, int height, int width) const {
  PoolGeometry pool;
  const std::vector<ConvGeometry> geoms = geometries(n, height, width, &pool);
  std::array<Dims, 3> dims;
  for (int level = 0; level < kLevels; ++level)
    dims[size_t(level)] = geoms[blocks_[size_t(kBlocksPerLayer * level + 1)].conv2].out_dims();
  return dims;
}

// An eval-only plan keeps no activation for a backward pass, so the units share a few buffers (sizes for one
// image), reused block after block:
//   working      every block's conv1 output, and the stem's output for a few images at a time (dead once the
//                next op has read it)
//   downsample   the downsample branches' outputs
//   block        the outputs of the blocks that are not pyramid levels (the next block's input)
//   level[3]     the pyramid levels, which the caller reads after forward()
// Each unit's BatchNorm runs in place (z = a).
struct ResNet18Trunk::EvalBuffers {
  size_t working = 0, downsample = 0, block = 0;
  int stem_images = 1;  // the stem's images per call
  std::array<size_t, 3> level{};
  size_t total() const { return working + downsample + block + level[0] + level[1] + level[2]; }
};

ResNet18Trunk::EvalBuffers ResNet18Trunk::eval_buffers(const std::vector<ConvGeometry>& geoms) const {
  EvalBuffers b;
  for (size_t i = 0; i < blocks_.size(); ++i) b.working = std::max(b.working, geoms[blocks_[i].conv1].out_dims().count());
  // The stem runs stem_images images at a time, as many as fit in the blocks' working buffer (at least one).
  const size_t stem_image = geoms[0].out_dims().count() / size_t(geoms[0].n);
  b.stem_images = int(std::max<size_t>(1, std::min<size_t>(size_t(geoms[0].n), b.working / stem_image)));
  b.working = std::max(b.working, stem_image * size_t(b.stem_images));
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& block = blocks_[i];
    if (block.downsample >= 0) b.downsample = std::max(b.downsample, geoms[size_t(block.downsample)].out_dims().count());
    const size_t out = geoms[block.conv2].out_dims().count();
    if (i % kBlocksPerLayer == kBlocksPerLayer - 1) {
      b.level[i / kBlocksPerLayer] = out;
    } else {
      b.block = std::max(b.block, out);
    }
  }
  return b;
}

size_t ResNet18Trunk::bytes_per_image(int height, int width, bool train) const {
  PoolGeometry pool;
  const std::vector<ConvGeometry> geoms = geometries(1, height, width, &pool);
  size_t floats = pool.out_dims().count(), largest = 0;
  if (!train) {  // the stem's share of the working buffer depends on the batch: the larger of 1 and 4 images
    PoolGeometry pool4;
    const size_t one = eval_buffers(geoms).total(), four = eval_buffers(geometries(4, height, width, &pool4)).total();
    return (floats + std::max(one, (four + 3) / 4)) * sizeof(float);
  }
  for (const ConvGeometry& g : geoms) {
    floats += 2 * g.out_dims().count();
    largest = std::max(largest, g.out_dims().count());
  }
  floats += grad_scratch_.size() * largest;
  return floats * sizeof(float);
}

void ResNet18Trunk::plan(int max_batch, int height, int width, bool train) {
  if (max_batch < 1) throw std::invalid_argument("batch size must be at least 1");
  PoolGeometry pool;
  const std::vector<ConvGeometry> geoms = geometries(max_batch, height, width, &pool);

  size_t total = pool.out_dims().count(), largest = 0;
  for (const ConvGeometry& g : geoms) largest = std::max(largest, g.out_dims().count());
  const EvalBuffers shared = eval_buffers(geoms);  // sizes at max_batch: geoms are for max_batch images
  if (train) {
    for (const ConvGeometry& g : geoms) total += 2 * g.out_dims().count() + 2 * size_t(g.k);
  } else {
    total += shared.total();
  }
  activations_ = Buffer(backend_, total);
  float* p = activations_.data();
  auto take = [&p](size_t count) { return std::exchange(p, p + count); };
  units_.assign(geoms.size(), Unit{});
  for (size_t i = 0; i < geoms.size(); ++i) {
    Unit& u = units_[i];
    u.geom = geoms[i];
    if (train) {
      u.z = take(u.geom.out_dims().count());
      u.a = take(u.geom.out_dims().count());
      u.save_mean = take(size_t(u.geom.k));
      u.save_invstd = take(size_t(u.geom.k));
    }
    backend_.prepare_conv(u.geom);
  }
  stem_images_ = shared.stem_images;
  if (!train) {
    float* working = take(shared.working);
    float* downsample = take(shared.downsample);
    float* block = take(shared.block);
    units_[0].a = working;
    for (size_t i = 0; i < blocks_.size(); ++i) {
      const Block& b = blocks_[i];
      units_[b.conv1].a = working;
      if (b.downsample >= 0) units_[size_t(b.downsample)].a = downsample;
      units_[b.conv2].a = i % kBlocksPerLayer == kBlocksPerLayer - 1 ? take(shared.level[i / kBlocksPerLayer]) : block;
    }
    for (Unit& u : units_) u.z = u.a;
  }
  pool_ = pool;
  pool_out_ = take(pool.out_dims().count());

  if (train) {
    scratch_ = Buffer(backend_, grad_scratch_.size() * largest);
    for (size_t i = 0; i < grad_scratch_.size(); ++i) grad_scratch_[i] = scratch_.data() + i * largest;
    if (!grads_.size()) grads_ = Buffer(backend_, param_count_);
  }
  max_batch_ = max_batch;
  height_ = height;
  width_ = width;
  planned_train_ = train;
}

void ResNet18Trunk::conv_bn_forward(Backend& on, size_t unit, const float* x, bool train, bool relu, int images) {
  Unit& u = units_[unit];
  const ConvBn& c = convs_[unit];
  const ConvGeometry g = u.geom_at(images > 0 ? images : batch_);
  const Dims d = g.out_dims();
  u.input = x;
  const float* gamma = data_of(table_[c.gamma]);
  const float* beta = data_of(table_[c.beta]);
  float* mean = data_of(table_[c.mean]);
  float* var = data_of(table_[c.var]);
  if (!train) {  // one op, which a backend may fuse; a is written directly
    on.conv_bn_forward_eval(u.a, x, data_of(table_[c.weight]), g, BatchNormEval{gamma, beta, mean, var, kBnEps},
                                  relu);
    return;
  }
  on.conv_forward(u.z, x, data_of(table_[c.weight]), g);
  on.batchnorm_forward_train(u.a, u.save_mean, u.save_invstd, mean, var, u.z, gamma, beta, d, kBnMomentum,
                                   kBnEps);
  if (relu) on.relu_forward(u.a, u.a, d.count());
}

Features ResNet18Trunk::forward(const float* x, int n, bool train, Backend& on) {
  if (units_.empty()) throw std::logic_error("ResNet18Trunk::forward before plan()");
  if (n < 1 || n > max_batch_)
    throw std::invalid_argument("batch of " + std::to_string(n) + " images, planned for at most " +
                                std::to_string(max_batch_));
  if (train && !planned_train_) throw std::logic_error("ResNet18Trunk: train-mode forward on an eval-only plan");
  batch_ = n;
  input_ = x;
  last_forward_train_ = train;

  // The stem: in an eval-only plan a few images at a time (EvalBuffers: its output, four times a block's, would
  // otherwise set the size of the shared working buffer).
  const int stem_images = planned_train_ ? n : stem_images_;
  Unit& stem = units_[0];
  const size_t image_in = size_t(stem.geom.c) * stem.geom.h * stem.geom.w;
  const size_t image_pooled = size_t(pool_.c) * pool_.out_h() * pool_.out_w();
  for (int first = 0; first < n; first += stem_images) {
    const int count = std::min(stem_images, n - first);
    conv_bn_forward(on, 0, x + size_t(first) * image_in, train, true, count);
    PoolGeometry pool = pool_;
    pool.n = count;
    on.maxpool_forward(pool_out_ + size_t(first) * image_pooled, stem.a, pool);
  }

  const float* in = pool_out_;
  for (const Block& b : blocks_) {
    conv_bn_forward(on, b.conv1, in, train, true);
    Unit& u1 = units_[b.conv1];
    conv_bn_forward(on, b.conv2, u1.a, train, false);
    Unit& u2 = units_[b.conv2];
    const size_t count = u2.geom_at(n).out_dims().count();
    const float* identity = in;
    if (b.downsample >= 0) {
      conv_bn_forward(on, size_t(b.downsample), in, train, false);
      identity = units_[size_t(b.downsample)].a;
    }
    on.add(u2.a, u2.a, identity, count);
    on.relu_forward(u2.a, u2.a, count);
    in = u2.a;
  }

  Features f;
  for (int level = 0; level < kLevels; ++level) {
    const Unit& out = units_[blocks_[size_t(kBlocksPerLayer * level + 1)].conv2];
    f.data[size_t(level)] = out.a;
    f.dims[size_t(level)] = out.geom_at(n).out_dims();
  }
  return f;
}

// dz = BatchNorm backward of dy; the conv's filter gradient; dx = the conv's input gradient (unless null).
void ResNet18Trunk::conv_bn_backward(size_t unit, float* dx, float* dz, const float* dy) {
  const Unit& u = units_[unit];
  const ConvBn& c = convs_[unit];
  const ConvGeometry g = u.geom_at(batch_);
  float* grads = grads_.data();
  backend_.batchnorm_backward(dz, grads + table_[c.gamma].offset, grads + table_[c.beta].offset, dy, u.z,
                              u.save_mean, u.save_invstd, data_of(table_[c.gamma]), g.out_dims());
  backend_.conv_backward_filter(grads + table_[c.weight].offset, dz, u.input, g);
  if (dx) backend_.conv_backward_data(dx, dz, data_of(table_[c.weight]), g);
}

// dout (the block output's gradient) is consumed: it is overwritten with the gradient behind the final ReLU.
void ResNet18Trunk::block_backward(size_t block, float* dout, float* dx, float* scratch1, float* scratch2) {
  const Block& b = blocks_[block];
  const Unit& u1 = units_[b.conv1];
  const Unit& u2 = units_[b.conv2];
  const size_t out_count = u2.geom_at(batch_).out_dims().count();
  const size_t in_count = u1.geom_at(batch_).in_dims().count();
  backend_.relu_backward(dout, dout, u2.a, out_count);
  conv_bn_backward(b.conv2, scratch2, scratch1, dout);
  backend_.relu_backward(scratch2, scratch2, u1.a, u1.geom_at(batch_).out_dims().count());
  conv_bn_backward(b.conv1, dx, scratch1, scratch2);
  if (b.downsample >= 0) {
    conv_bn_backward(size_t(b.downsample), scratch2, scratch1, dout);
    backend_.add(dx, dx, scratch2, in_count);
  } else {
    backend_.add(dx, dx, dout, in_count);
  }
}

void ResNet18Trunk::backward(const std::array<const float*, 3>& feature_grads) {
  if (!planned_train_ || !last_forward_train_)
    throw std::logic_error("ResNet18Trunk::backward needs a train-mode plan and forward");
  float* a = grad_scratch_[0];
  float* b = grad_scratch_[1];
  float* s1 = grad_scratch_[2];
  float* s2 = grad_scratch_[3];
  const Unit& last = units_[blocks_.back().conv2];
  backend_.copy(a, feature_grads[2], last.geom_at(batch_).out_dims().count());
  for (size_t i = blocks_.size(); i-- > 0;) {
    block_backward(i, a, b, s1, s2);
    std::swap(a, b);
    const size_t in_count = units_[blocks_[i].conv1].geom_at(batch_).in_dims().count();
    // The input of each layer's first block (but layer1's) is the previous level's feature map, which also
    // feeds the loss.
    if (i > 0 && i % kBlocksPerLayer == 0) backend_.add(a, a, feature_grads[i / kBlocksPerLayer - 1], in_count);
  }
  const Unit& stem = units_[0];
  PoolGeometry pool = pool_;
  pool.n = batch_;
  backend_.maxpool_backward(b, a, pool_out_, stem.a, pool);
  backend_.relu_backward(b, b, stem.a, stem.geom_at(batch_).out_dims().count());
  conv_bn_backward(0, nullptr, s1, b);
}

}  // namespace stfpm
