// Shapes and tensors. A Shape lists dimensions outermost first (NCHW for activations, OIHW for conv weights).
// HostTensor owns host memory; Buffer owns memory on a backend (host for the CPU backend, GPU for CUDA).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace stfpm {

class Backend;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(std::vector<int64_t> dims);

  int rank() const { return static_cast<int>(dims_.size()); }
  int64_t operator[](int i) const { return dims_.at(static_cast<size_t>(i)); }
  const std::vector<int64_t>& dims() const { return dims_; }
  int64_t numel() const;
  std::string str() const;  // "(2, 3, 64, 64)"

  bool operator==(const Shape& other) const { return dims_ == other.dims_; }
  bool operator!=(const Shape& other) const { return dims_ != other.dims_; }

 private:
  std::vector<int64_t> dims_;
};

// Activation dimensions (N, C, H, W) as the backend ops take them.
struct Dims {
  int n = 1, c = 1, h = 1, w = 1;
  size_t count() const { return size_t(n) * size_t(c) * size_t(h) * size_t(w); }
  size_t plane() const { return size_t(h) * size_t(w); }
  Shape shape() const { return Shape{n, c, h, w}; }
};

struct HostTensor {
  Shape shape;
  std::vector<float> data;  // numel() values, row-major

  HostTensor() = default;
  explicit HostTensor(Shape s, float fill = 0.0f);
};

// Owning, move-only block of floats in a backend's memory, zero-filled on allocation.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& backend, size_t count);
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  float* data() { return data_; }
  const float* data() const { return data_; }
  size_t size() const { return count_; }

  void upload(const std::vector<float>& host);  // size must match
  std::vector<float> download() const;

 private:
  void release();
  Backend* backend_ = nullptr;
  float* data_ = nullptr;
  size_t count_ = 0;
};

}  // namespace stfpm
