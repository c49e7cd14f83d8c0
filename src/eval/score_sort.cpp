// Sorting scores for the evaluator: a radix sort of float keys and the split by class.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "eval/metrics_internal.h"

namespace stfpm::detail {

namespace {

// Digits of 11 bits: 2048 counters stay in L1.
constexpr int kDigitBits = 11;
constexpr size_t kBuckets = size_t(1) << kDigitBits;
// Below this many keys a second thread costs more than it saves.
constexpr size_t kParallelMin = size_t(1) << 17;

// Moves keys[i] (and tags[i]) to keys_out[offset[d]++] where d is the digit (key >> shift) & mask: one stable
// counting-sort pass.
template <bool kWithTags>
void scatter(const uint32_t* keys, const uint32_t* tags, uint32_t* keys_out, uint32_t* tags_out, size_t n,
             int shift, uint32_t mask, size_t* offset) {
  for (size_t i = 0; i < n; ++i) {
    size_t at = offset[(keys[i] >> shift) & mask]++;
    keys_out[at] = keys[i];
    if (kWithTags) tags_out[at] = tags[i];
  }
}

// The bits that differ between keys: a digit without any needs no pass.
uint32_t varying_bits(const uint32_t* keys, size_t n) {
  uint32_t any = 0, all = ~0u;
  for (size_t i = 0; i < n; ++i) any |= keys[i], all &= keys[i];
  return any ^ all;
}

// Sorts the m keys of one bucket (all equal above low_bits) by an LSD radix sort of their low bits, ping-ponging
// between the bucket's two ranges, and leaves the result in (keys, tags).
template <bool kWithTags>
void sort_bucket(uint32_t* keys, uint32_t* tags, uint32_t* keys_buf, uint32_t* tags_buf, size_t m, int low_bits) {
  const uint32_t varying = varying_bits(keys_buf, m);
  size_t count[kBuckets];
  uint32_t *from = keys_buf, *to = keys, *from_tags = tags_buf, *to_tags = tags;
  for (int shift = 0; shift < low_bits; shift += kDigitBits) {
    const uint32_t mask = (1u << std::min(kDigitBits, low_bits - shift)) - 1;
    if (((varying >> shift) & mask) == 0) continue;
    std::fill(count, count + mask + 1, 0);
    for (size_t i = 0; i < m; ++i) ++count[(from[i] >> shift) & mask];
    size_t sum = 0;
    for (uint32_t d = 0; d <= mask; ++d) sum += std::exchange(count[d], sum);
    scatter<kWithTags>(from, from_tags, to, to_tags, m, shift, mask, count);
    std::swap(from, to);
    std::swap(from_tags, to_tags);
  }
  if (from != keys) {
    std::copy(from, from + m, keys);
    if (kWithTags) std::copy(from_tags, from_tags + m, tags);
  }
}

// MSD pass on the highest 11 varying bits into buckets, then each bucket sorted on its own: a bucket usually fits
// in cache, which makes its LSD passes several times cheaper than passes over the whole array, and buckets sort
// in parallel without synchronization.
template <bool kWithTags>
void msd_lsd_sort(std::vector<uint32_t>& keys, uint32_t* tags) {
  const size_t n = keys.size();
  const uint32_t varying = varying_bits(keys.data(), n);
  if (varying == 0) return;  // all keys equal
  const int top = 31 - __builtin_clz(varying);
  const int shift = std::max(0, top + 1 - kDigitBits);
  const uint32_t mask = uint32_t(kBuckets - 1);
  std::vector<size_t> start(kBuckets + 1, 0);
  for (uint32_t k : keys) ++start[((k >> shift) & mask) + 1];
  for (size_t b = 0; b < kBuckets; ++b) start[b + 1] += start[b];
  std::vector<uint32_t> keys_buf(n), tags_buf(kWithTags ? n : 0);
  std::vector<size_t> at(start.begin(), start.end() - 1);
  scatter<kWithTags>(keys.data(), tags, keys_buf.data(), tags_buf.data(), n, shift, mask, at.data());
#pragma omp parallel for schedule(dynamic) if (n >= kParallelMin)
  for (size_t b = 0; b < kBuckets; ++b) {
    const size_t lo = start[b], m = start[b + 1] - lo;
    if (m > 0)
      sort_bucket<kWithTags>(keys.data() + lo, kWithTags ? tags + lo : nullptr, keys_buf.data() + lo,
                             kWithTags ? tags_buf.data() + lo : nullptr, m, shift);
  }
}

}  // namespace

void radix_sort(std::vector<uint32_t>& keys, std::vector<uint32_t>* tags) {
  if (tags && tags->size() != keys.size()) throw std::logic_error("radix_sort: tags and keys differ in length");
  if (tags)
    msd_lsd_sort<true>(keys, tags->data());
  else
    msd_lsd_sort<false>(keys, nullptr);
}

SortedSplit split_scores(const float* scores, const uint8_t* labels, size_t n, const std::string& what) {
  if (n > 0 && (!scores || !labels)) throw std::invalid_argument(what + ": null scores or labels");
  size_t n_pos = 0;
  for (size_t i = 0; i < n; ++i) {
    if (labels[i] > 1)
      throw std::invalid_argument(what + ": label " + std::to_string(labels[i]) + " at index " +
                                  std::to_string(i) + " is not 0 or 1");
    n_pos += labels[i];
  }
  SortedSplit s;
  // One slot of slack on each side lets the loop below write every key to both arrays and advance only the
  // matching one: no branch to mispredict on shuffled labels.
  s.neg_keys.resize(n - n_pos + 1);
  s.pos_keys.resize(n_pos + 1);
  uint32_t* neg = s.neg_keys.data();
  uint32_t* pos = s.pos_keys.data();
  size_t in = 0, ip = 0;
  bool nan = false;
  for (size_t i = 0; i < n; ++i) {
    nan |= std::isnan(scores[i]);
    uint32_t k = float_key(scores[i]);
    neg[in] = k;
    pos[ip] = k;
    in += 1u - labels[i];
    ip += labels[i];
  }
  if (nan) {
    size_t i = 0;
    while (!std::isnan(scores[i])) ++i;
    throw std::invalid_argument(what + ": score at index " + std::to_string(i) + " is NaN");
  }
  s.neg_keys.pop_back();
  s.pos_keys.pop_back();
  radix_sort(s.neg_keys, nullptr);
  radix_sort(s.pos_keys, nullptr);
  return s;
}

}  // namespace stfpm::detail
