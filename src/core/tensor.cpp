#include "core/tensor.h"

#include <stdexcept>
#include <utility>

#include "core/backend.h"

namespace stfpm {

Shape::Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
Shape::Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : dims_) n *= d;
  return n;
}

std::string Shape::str() const {
  std::string s = "(";
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  return s + ")";
}

HostTensor::HostTensor(Shape s, float fill) : shape(std::move(s)), data(static_cast<size_t>(shape.numel()), fill) {}

Buffer::Buffer(Backend& backend, size_t count) : backend_(&backend), count_(count) {
  data_ = count ? backend.allocate(count) : nullptr;
}

Buffer::~Buffer() { release(); }

Buffer::Buffer(Buffer&& other) noexcept
    : backend_(std::exchange(other.backend_, nullptr)),
      data_(std::exchange(other.data_, nullptr)),
      count_(std::exchange(other.count_, 0)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release();
    backend_ = std::exchange(other.backend_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    count_ = std::exchange(other.count_, 0);
  }
  return *this;
}

void Buffer::release() {
  if (data_ && backend_) backend_->release(data_);
  data_ = nullptr;
  count_ = 0;
}

void Buffer::upload(const std::vector<float>& host) {
  if (host.size() != count_)
    throw std::invalid_argument("Buffer::upload: " + std::to_string(host.size()) + " values for a buffer of " +
                                std::to_string(count_));
  if (count_) backend_->upload(data_, host.data(), count_);
}

std::vector<float> Buffer::download() const {
  std::vector<float> host(count_);
  if (count_) backend_->download(host.data(), data_, count_);
  return host;
}

}  // namespace stfpm
