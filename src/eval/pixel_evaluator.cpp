// The pixel metrics in bounded memory: ground-truth components labelled image by image, pixels sorted in runs,
// runs beyond the first written to a scratch file, and one sweep over the k-way merge of the runs.
#include <algorithm>
#include <climits>
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "core/scratch_file.h"
#include "eval/metrics_internal.h"

namespace stfpm {
namespace {

using detail::DescendingKeys;

// Labels the 8-connected components of one 0/1 mask by flood fill: label[p] = the component's id, numbered on
// from sizes.size() in row-major order of first pixels, untouched (UINT32_MAX) for defect-free pixels. Appends
// each component's size to sizes.
void label_image(uint32_t* label, const uint8_t* mask, int height, int width, std::vector<uint32_t>& sizes,
                 std::vector<int>& stack) {
  const int plane = height * width;
  for (int start = 0; start < plane; ++start) {
    if (!mask[start] || label[start] != UINT32_MAX) continue;
    const uint32_t id = uint32_t(sizes.size());
    uint32_t size = 0;
    label[start] = id;
    stack.assign(1, start);
    while (!stack.empty()) {
      const int p = stack.back();
      stack.pop_back();
      ++size;
      const int y = p / width, x = p % width;
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          const int ny = y + dy, nx = x + dx;
          if (ny < 0 || ny >= height || nx < 0 || nx >= width) continue;
          const int q = ny * width + nx;
          if (mask[q] && label[q] == UINT32_MAX) {
            label[q] = id;
            stack.push_back(q);
          }
        }
      }
    }
    sizes.push_back(size);
  }
}

std::string pixel_name(int image, size_t in_plane, int width) {
  return "image " + std::to_string(image) + " at (y " + std::to_string(in_plane / size_t(width)) + ", x " +
         std::to_string(in_plane % size_t(width)) + ")";
}

// Records per read of a run on disk: 64 KB of defect-free keys.
constexpr size_t kReadRecords = size_t(1) << 14;

// One sorted run on the scratch file, descending, read a block at a time. A record is kWords uint32: the key,
// then (for defect pixels) the component.
template <int kWords>
class RunReader {
 public:
  RunReader(const ScratchFile& file, uint64_t offset, uint64_t records)
      : file_(&file), offset_(offset), left_(records) {
    refill();
  }
  bool done() const { return at_ == have_; }
  uint32_t key() const { return buf_[at_ * kWords]; }
  uint32_t tag() const { return buf_[at_ * kWords + kWords - 1]; }
  void next() {
    if (++at_ == have_ && left_ > 0) refill();
  }

 private:
  void refill() {
    const size_t n = size_t(std::min<uint64_t>(kReadRecords, left_));
    buf_.resize(n * kWords);
    file_->read(offset_, buf_.data(), buf_.size() * sizeof(uint32_t));
    offset_ += buf_.size() * sizeof(uint32_t);
    left_ -= n;
    have_ = n;
    at_ = 0;
  }
  const ScratchFile* file_;
  uint64_t offset_, left_;
  std::vector<uint32_t> buf_;
  size_t at_ = 0, have_ = 0;
};

// The k-way merge of descending runs, as a sweep cursor: the highest key first and, among equal keys, the later
// run first. Runs hold consecutive images and each lists equal keys later pixel first (a stable ascending sort,
// reversed), so the merged order is the one a single run of all pixels would give.
template <int kWords>
class MergedRuns {
 public:
  explicit MergedRuns(std::vector<RunReader<kWords>> runs) : runs_(std::move(runs)) {
    for (size_t r = 0; r < runs_.size(); ++r)
      if (!runs_[r].done()) heap_.push_back(r);
    std::make_heap(heap_.begin(), heap_.end(), order());
  }
  bool done() const { return heap_.empty(); }
  uint32_t key() const { return runs_[heap_.front()].key(); }
  uint32_t tag() const { return runs_[heap_.front()].tag(); }
  void next() {
    std::pop_heap(heap_.begin(), heap_.end(), order());
    RunReader<kWords>& run = runs_[heap_.back()];
    run.next();
    if (run.done())
      heap_.pop_back();
    else
      std::push_heap(heap_.begin(), heap_.end(), order());
  }

 private:
  // "a comes after b" for std::*_heap, which keeps the greatest first.
  auto order() const {
    return [this](size_t a, size_t b) {
      const uint32_t ka = runs_[a].key(), kb = runs_[b].key();
      return ka < kb || (ka == kb && a < b);
    };
  }
  std::vector<RunReader<kWords>> runs_;
  std::vector<size_t> heap_;
};

}  // namespace

struct PixelEvaluator::State {
  int height, width;
  std::string folder, what;
  size_t max_run;
  int images = 0;
  bool finished = false;
  uint64_t n_neg = 0, n_pos = 0;
  std::vector<uint32_t> component_sizes;
  std::vector<uint32_t> label;
  std::vector<int> stack;
  // The run being filled: defect-free keys, defect keys and their components.
  std::vector<uint32_t> neg, pos, pos_tags;
  std::unique_ptr<ScratchFile> file;
  struct Run {
    uint64_t neg_at, neg_count, pos_at, pos_count;
  };
  std::vector<Run> runs;

  void sort_run() {
    detail::radix_sort(neg, nullptr);
    detail::radix_sort(pos, &pos_tags);
  }
  // Sorts the run, writes it descending (neg keys, then (key, component) pairs) and empties it.
  void write_run() {
    sort_run();
    if (!file)
      file = std::make_unique<ScratchFile>(folder.empty() ? std::filesystem::temp_directory_path().string()
                                                          : folder);
    std::reverse(neg.begin(), neg.end());
    Run r{file->append(neg.data(), neg.size() * sizeof(uint32_t)), neg.size(), file->size(), pos.size()};
    std::vector<uint32_t> pairs;
    for (size_t first = pos.size(); first > 0;) {  // from the end: descending
      const size_t n = std::min(first, kReadRecords);
      pairs.resize(2 * n);
      for (size_t i = 0; i < n; ++i) pairs[2 * i] = pos[first - 1 - i], pairs[2 * i + 1] = pos_tags[first - 1 - i];
      file->append(pairs.data(), pairs.size() * sizeof(uint32_t));
      first -= n;
    }
    runs.push_back(r);
    neg.clear();
    pos.clear();
    pos_tags.clear();
  }
};

PixelEvaluator::PixelEvaluator(int height, int width, const std::string& scratch_folder, size_t max_sorted_pixels,
                               const std::string& what)
    : s_(std::make_unique<State>()) {
  if (height <= 0 || width <= 0 || int64_t(height) * width > INT_MAX)
    throw std::invalid_argument(what + ": bad map size " + std::to_string(height) + " x " + std::to_string(width));
  s_->height = height;
  s_->width = width;
  s_->folder = scratch_folder;
  s_->what = what;
  s_->max_run = std::max<size_t>(1, max_sorted_pixels);
  s_->label.resize(size_t(height) * size_t(width));
}

PixelEvaluator::~PixelEvaluator() = default;

void PixelEvaluator::reserve(size_t defect_free, size_t defect) {
  State& s = *s_;
  s.neg.reserve(s.neg.size() + defect_free + 1);  // add() writes one slot past the end
  s.pos.reserve(s.pos.size() + defect + 1);
  s.pos_tags.reserve(s.pos_tags.size() + defect + 1);
}

int PixelEvaluator::images() const { return s_->images; }
size_t PixelEvaluator::runs_on_disk() const { return s_->runs.size(); }

void PixelEvaluator::add(const float* map, const uint8_t* mask01) {
  State& s = *s_;
  if (s.finished) throw std::logic_error("PixelEvaluator::add after finish");
  if (!map || !mask01) throw std::invalid_argument(s.what + ": null maps or masks");
  const size_t plane = s.label.size();
  size_t n_pos = 0;
  for (size_t p = 0; p < plane; ++p) {
    if (mask01[p] > 1)
      throw std::invalid_argument(s.what + ": mask value " + std::to_string(mask01[p]) + " in " +
                                  pixel_name(s.images, p, s.width) +
                                  " is not 0 or 1 (binarize 8-bit masks with binarize_mask first)");
    n_pos += mask01[p];
  }
  for (size_t p = 0; p < plane; ++p)
    if (std::isnan(map[p])) throw std::invalid_argument(s.what + ": NaN score in " + pixel_name(s.images, p, s.width));
  std::fill(s.label.begin(), s.label.end(), UINT32_MAX);
  label_image(s.label.data(), mask01, s.height, s.width, s.component_sizes, s.stack);
  // Every pixel is written to both sides and only the matching side advances: no branch to mispredict.
  const size_t neg0 = s.neg.size(), pos0 = s.pos.size();
  s.neg.resize(neg0 + plane - n_pos + 1);
  s.pos.resize(pos0 + n_pos + 1);
  s.pos_tags.resize(pos0 + n_pos + 1);
  uint32_t* neg = s.neg.data() + neg0;
  uint32_t* pos = s.pos.data() + pos0;
  uint32_t* tag = s.pos_tags.data() + pos0;
  size_t in = 0, ip = 0;
  for (size_t p = 0; p < plane; ++p) {
    const uint32_t k = float_key(map[p]);
    neg[in] = k;
    pos[ip] = k;
    tag[ip] = s.label[p];
    in += 1u - mask01[p];
    ip += mask01[p];
  }
  s.neg.pop_back();
  s.pos.pop_back();
  s.pos_tags.pop_back();
  s.n_neg += plane - n_pos;
  s.n_pos += n_pos;
  ++s.images;
  if (s.neg.size() + s.pos.size() >= s.max_run) s.write_run();
}

PixelMetrics PixelEvaluator::finish() {
  State& s = *s_;
  if (s.finished) throw std::logic_error("PixelEvaluator::finish called twice");
  s.finished = true;
  std::vector<double> weights(s.component_sizes.size());  // a component's pixel adds 1/size to the overlaps
  for (size_t c = 0; c < weights.size(); ++c) weights[c] = 1.0 / s.component_sizes[c];
  detail::SweepResult r;
  // The run's arrays are the largest allocation here: gone before finish() returns (and, for a merge, before it).
  auto release = [&s] {
    std::vector<uint32_t>().swap(s.neg);
    std::vector<uint32_t>().swap(s.pos);
    std::vector<uint32_t>().swap(s.pos_tags);
    std::vector<uint32_t>().swap(s.label);
  };
  if (s.runs.empty()) {  // everything fits: sweep the sorted arrays
    s.sort_run();
    DescendingKeys neg{s.neg.data(), nullptr, s.neg.size()};
    DescendingKeys pos{s.pos.data(), s.pos_tags.data(), s.pos.size()};
    r = detail::sweep(neg, pos, s.n_neg, s.n_pos, &weights);
    release();
  } else {
    if (!s.neg.empty() || !s.pos.empty()) s.write_run();
    release();  // the merge needs only its read buffers
    std::vector<RunReader<1>> neg_runs;
    std::vector<RunReader<2>> pos_runs;
    for (const State::Run& run : s.runs) {
      neg_runs.emplace_back(*s.file, run.neg_at, run.neg_count);
      pos_runs.emplace_back(*s.file, run.pos_at, run.pos_count);
    }
    MergedRuns<1> neg(std::move(neg_runs));
    MergedRuns<2> pos(std::move(pos_runs));
    r = detail::sweep(neg, pos, s.n_neg, s.n_pos, &weights);
  }
  PixelMetrics m;
  m.auroc = r.auc;
  m.f1 = r.f1;
  m.pro = std::move(r.pro);
  m.n_pixels = size_t(s.n_neg + s.n_pos);
  m.n_defect_pixels = size_t(s.n_pos);
  m.n_components = s.component_sizes.size();
  return m;
}

}  // namespace stfpm
