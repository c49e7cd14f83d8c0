// Named tensors in HDF5 files: the teacher weights, student checkpoints and test fixtures.
// Layout: one dataset per tensor, named by its path ("layer1.0.conv1.weight", "optimizer/momentum/conv1.weight"),
// plus attributes (scalars, 1-D numbers, strings) on the root group. Every error names the file and the tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace stfpm {

class H5Reader {
 public:
  explicit H5Reader(const std::string& path);  // throws std::runtime_error naming the file
  ~H5Reader();
  H5Reader(const H5Reader&) = delete;
  H5Reader& operator=(const H5Reader&) = delete;

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const;
  Shape shape(const std::string& name) const;
  // How a tensor is stored: "float32", "float64", "int32", "uint8", ... (throws for a missing tensor).
  std::string type_name(const std::string& name) const;

  // Read a dataset converted to the requested element type. With `expected` given, a shape mismatch is an error
  // that names the tensor, the file, and both shapes.
  std::vector<float> read_floats(const std::string& name, Shape* shape_out = nullptr) const;
  std::vector<float> read_floats(const std::string& name, const Shape& expected) const;
  std::vector<double> read_doubles(const std::string& name, Shape* shape_out = nullptr) const;
  std::vector<int64_t> read_ints(const std::string& name, Shape* shape_out = nullptr) const;
  HostTensor read_tensor(const std::string& name) const;

  bool has_attr(const std::string& name) const;
  double attr_double(const std::string& name) const;
  int64_t attr_int(const std::string& name) const;
  uint64_t attr_uint(const std::string& name) const;
  std::string attr_string(const std::string& name) const;
  // Numeric attributes of any rank (a scalar reads as one value), converted.
  std::vector<double> attr_doubles(const std::string& name) const;
  std::vector<int64_t> attr_ints(const std::string& name) const;
  bool attr_is_string(const std::string& name) const;  // false when missing

 private:
  std::string path_;
  int64_t file_ = -1;  // hid_t
};

// Writes to "<path>.tmp" and renames it to <path> on commit(), so a crash never leaves a half-written file.
// Destroying an uncommitted writer removes the temporary file.
class H5Writer {
 public:
  explicit H5Writer(const std::string& path);  // throws std::runtime_error naming the file
  ~H5Writer();
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;

  // Intermediate groups in a name ("a/b/c") are created as needed.
  void write(const std::string& name, const Shape& shape, const float* data);
  void write(const std::string& name, const HostTensor& t) { write(name, t.shape, t.data.data()); }
  void write(const std::string& name, const Shape& shape, const double* data);
  void write(const std::string& name, const Shape& shape, const int64_t* data);
  void set_attr(const std::string& name, double value);
  void set_attr(const std::string& name, int64_t value);
  void set_attr(const std::string& name, uint64_t value);
  void set_attr(const std::string& name, const std::string& value);
  void set_attr(const std::string& name, const std::vector<double>& values);   // a 1-D attribute
  void set_attr(const std::string& name, const std::vector<int64_t>& values);  // a 1-D attribute
  void commit();

 private:
  bool close();  // false when HDF5 could not write out the file
  std::string path_, tmp_path_;
  int64_t file_ = -1;  // hid_t
  bool committed_ = false;
};

}  // namespace stfpm
