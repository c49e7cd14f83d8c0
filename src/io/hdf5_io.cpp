#include "io/hdf5_io.h"

#include <hdf5.h>

#include <cstdio>
#include <stdexcept>
#include <type_traits>

#include "core/files.h"

namespace stfpm {

static_assert(std::is_same<hid_t, int64_t>::value, "hid_t is stored as int64_t");

namespace {

// HDF5 prints its own error stack on failures; we report one clear line instead.
void silence_hdf5_errors() {
  static bool done = false;
  if (!done) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    done = true;
  }
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

// Closes an HDF5 handle of any kind when leaving scope.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0) close(id);
  }
};

template <typename T>
hid_t memory_type();
template <>
hid_t memory_type<float>() { return H5T_NATIVE_FLOAT; }
template <>
hid_t memory_type<double>() { return H5T_NATIVE_DOUBLE; }
template <>
hid_t memory_type<int64_t>() { return H5T_NATIVE_INT64; }
template <>
hid_t memory_type<uint64_t>() { return H5T_NATIVE_UINT64; }

// The most elements a tensor may have (512 MiB of float32, a hundred times stfpm's largest): a file declaring more
// is refused before anything is allocated (a tiny file can declare a huge dataset that reads as fill values).
constexpr uint64_t kMaxTensorElements = uint64_t(1) << 27;
// Attributes hold recipe values and short lists.
constexpr hssize_t kMaxAttributeValues = 1 << 16;

// The shape of a dataspace, refusing a rank or element count the reader would not hold.
Shape checked_shape(hid_t space, const std::string& path, const std::string& name) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) fail(path, "cannot read the shape of '" + name + "'");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  uint64_t elements = 1;
  for (hsize_t d : dims) {
    if (d != 0 && elements > kMaxTensorElements / d)
      fail(path, "tensor '" + name + "' is too large (more than " + std::to_string(kMaxTensorElements) +
                     " elements)");
    elements *= d;
  }
  return Shape(std::vector<int64_t>(dims.begin(), dims.end()));
}

// The number of values of an attribute; fails unless it is between 1 and `most`.
hssize_t attribute_values(hid_t attribute, const std::string& path, const std::string& name, hssize_t most) {
  Handle space{H5Aget_space(attribute), H5Sclose};
  const hssize_t n = space.id >= 0 ? H5Sget_simple_extent_npoints(space.id) : -1;
  if (n < 0) fail(path, "cannot read attribute '" + name + "'");
  if (n > most)
    fail(path, "attribute '" + name + "' holds " + std::to_string(n) + " values, expected " +
                   (most == 1 ? std::string("one") : "at most " + std::to_string(most)));
  return n;
}

template <typename T>
std::vector<T> read_dataset(hid_t file, const std::string& path, const std::string& name, Shape* shape_out) {
  if (H5Lexists(file, name.c_str(), H5P_DEFAULT) <= 0) fail(path, "missing tensor '" + name + "'");
  Handle ds{H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose};
  if (ds.id < 0) fail(path, "cannot open tensor '" + name + "'");
  Handle space{H5Dget_space(ds.id), H5Sclose};
  const Shape shape = checked_shape(space.id, path, name);
  std::vector<T> out(static_cast<size_t>(shape.numel()));
  if (!out.empty() && H5Dread(ds.id, memory_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    fail(path, "cannot read tensor '" + name + "' (unreadable or not numeric)");
  if (shape_out) *shape_out = shape;
  return out;
}

void make_parent_groups(hid_t file, const std::string& name) {
  for (size_t pos = name.find('/'); pos != std::string::npos; pos = name.find('/', pos + 1)) {
    std::string group = name.substr(0, pos);
    if (group.empty() || H5Lexists(file, group.c_str(), H5P_DEFAULT) > 0) continue;
    Handle g{H5Gcreate2(file, group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
    if (g.id < 0) throw std::runtime_error("cannot create HDF5 group '" + group + "'");
  }
}

template <typename T>
void write_dataset(hid_t file, const std::string& path, const std::string& name, const Shape& shape,
                   const T* data) {
  make_parent_groups(file, name);
  std::vector<hsize_t> dims(shape.dims().begin(), shape.dims().end());
  Handle space{H5Screate_simple(shape.rank(), dims.data(), nullptr), H5Sclose};
  if (shape.rank() == 0) space.id = H5Screate(H5S_SCALAR);
  Handle ds{H5Dcreate2(file, name.c_str(), memory_type<T>(), space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose};
  if (ds.id < 0) fail(path, "cannot create tensor '" + name + "'");
  if (shape.numel() > 0 && H5Dwrite(ds.id, memory_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail(path, "cannot write tensor '" + name + "' (disk full?)");
}

template <typename T>
void write_scalar_attr(hid_t file, const std::string& path, const std::string& name, T value) {
  if (H5Aexists(file, name.c_str()) > 0) H5Adelete(file, name.c_str());
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  Handle a{H5Acreate2(file, name.c_str(), memory_type<T>(), space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (a.id < 0 || H5Awrite(a.id, memory_type<T>(), &value) < 0) fail(path, "cannot write attribute '" + name + "'");
}

template <typename T>
T read_scalar_attr(hid_t file, const std::string& path, const std::string& name) {
  if (H5Aexists(file, name.c_str()) <= 0) fail(path, "missing attribute '" + name + "'");
  Handle a{H5Aopen(file, name.c_str(), H5P_DEFAULT), H5Aclose};
  Handle type{a.id >= 0 ? H5Aget_type(a.id) : -1, H5Tclose};
  const H5T_class_t cls = type.id >= 0 ? H5Tget_class(type.id) : H5T_NO_CLASS;
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) fail(path, "attribute '" + name + "' is not a number");
  if (attribute_values(a.id, path, name, 1) != 1) fail(path, "attribute '" + name + "' holds no value");
  T value{};
  if (H5Aread(a.id, memory_type<T>(), &value) < 0) fail(path, "attribute '" + name + "' is not a number");
  return value;
}

template <typename T>
void write_array_attr(hid_t file, const std::string& path, const std::string& name, const std::vector<T>& values) {
  if (H5Aexists(file, name.c_str()) > 0) H5Adelete(file, name.c_str());
  const hsize_t n = values.size();
  Handle space{H5Screate_simple(1, &n, nullptr), H5Sclose};
  Handle a{H5Acreate2(file, name.c_str(), memory_type<T>(), space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (a.id < 0 || (n > 0 && H5Awrite(a.id, memory_type<T>(), values.data()) < 0))
    fail(path, "cannot write attribute '" + name + "'");
}

// A numeric attribute of any rank (a scalar reads as one value), converted to T.
template <typename T>
std::vector<T> read_array_attr(hid_t file, const std::string& path, const std::string& name) {
  if (H5Aexists(file, name.c_str()) <= 0) fail(path, "missing attribute '" + name + "'");
  Handle a{H5Aopen(file, name.c_str(), H5P_DEFAULT), H5Aclose};
  Handle type{a.id >= 0 ? H5Aget_type(a.id) : -1, H5Tclose};
  const H5T_class_t cls = type.id >= 0 ? H5Tget_class(type.id) : H5T_NO_CLASS;
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) fail(path, "attribute '" + name + "' is not numeric");
  const hssize_t n = attribute_values(a.id, path, name, kMaxAttributeValues);
  std::vector<T> out(static_cast<size_t>(n));
  if (n > 0 && H5Aread(a.id, memory_type<T>(), out.data()) < 0)
    fail(path, "cannot read attribute '" + name + "'");
  return out;
}

}  // namespace

// ---- reader ---------------------------------------------------------------------------------------------

H5Reader::H5Reader(const std::string& path) : path_(path) {
  silence_hdf5_errors();
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    std::fclose(f);
  } else {
    fail(path, "cannot open (missing or not readable)");
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) fail(path, "not an HDF5 file (or truncated)");
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) fail(path, "cannot open as HDF5");
}

H5Reader::~H5Reader() {
  if (file_ >= 0) H5Fclose(file_);
}

bool H5Reader::has(const std::string& name) const {
  // H5Lexists fails on a missing intermediate group; check each level.
  for (size_t pos = name.find('/'); pos != std::string::npos; pos = name.find('/', pos + 1))
    if (H5Lexists(file_, name.substr(0, pos).c_str(), H5P_DEFAULT) <= 0) return false;
  return H5Lexists(file_, name.c_str(), H5P_DEFAULT) > 0;
}

Shape H5Reader::shape(const std::string& name) const {
  if (!has(name)) fail(path_, "missing tensor '" + name + "'");
  Handle ds{H5Dopen2(file_, name.c_str(), H5P_DEFAULT), H5Dclose};
  if (ds.id < 0) fail(path_, "cannot open tensor '" + name + "'");
  Handle space{H5Dget_space(ds.id), H5Sclose};
  return checked_shape(space.id, path_, name);
}

std::vector<float> H5Reader::read_floats(const std::string& name, Shape* shape_out) const {
  if (!has(name)) fail(path_, "missing tensor '" + name + "'");
  return read_dataset<float>(file_, path_, name, shape_out);
}

std::vector<float> H5Reader::read_floats(const std::string& name, const Shape& expected) const {
  Shape actual = shape(name);
  if (actual != expected)
    fail(path_, "tensor '" + name + "' has shape " + actual.str() + ", expected " + expected.str());
  return read_dataset<float>(file_, path_, name, nullptr);
}

std::vector<double> H5Reader::read_doubles(const std::string& name, Shape* shape_out) const {
  if (!has(name)) fail(path_, "missing tensor '" + name + "'");
  return read_dataset<double>(file_, path_, name, shape_out);
}

std::vector<int64_t> H5Reader::read_ints(const std::string& name, Shape* shape_out) const {
  if (!has(name)) fail(path_, "missing tensor '" + name + "'");
  return read_dataset<int64_t>(file_, path_, name, shape_out);
}

HostTensor H5Reader::read_tensor(const std::string& name) const {
  HostTensor t;
  t.data = read_floats(name, &t.shape);
  return t;
}

std::string H5Reader::type_name(const std::string& name) const {
  if (!has(name)) fail(path_, "missing tensor '" + name + "'");
  Handle ds{H5Dopen2(file_, name.c_str(), H5P_DEFAULT), H5Dclose};
  Handle type{ds.id >= 0 ? H5Dget_type(ds.id) : -1, H5Tclose};
  if (type.id < 0) fail(path_, "cannot read the type of tensor '" + name + "'");
  const size_t bits = 8 * H5Tget_size(type.id);
  switch (H5Tget_class(type.id)) {
    case H5T_FLOAT: return "float" + std::to_string(bits);
    case H5T_INTEGER: return (H5Tget_sign(type.id) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_STRING: return "string";
    default: return "a non-numeric type";
  }
}

bool H5Reader::has_attr(const std::string& name) const { return H5Aexists(file_, name.c_str()) > 0; }

double H5Reader::attr_double(const std::string& name) const {
  return read_scalar_attr<double>(file_, path_, name);
}

int64_t H5Reader::attr_int(const std::string& name) const { return read_scalar_attr<int64_t>(file_, path_, name); }
uint64_t H5Reader::attr_uint(const std::string& name) const { return read_scalar_attr<uint64_t>(file_, path_, name); }

std::vector<double> H5Reader::attr_doubles(const std::string& name) const {
  return read_array_attr<double>(file_, path_, name);
}

std::vector<int64_t> H5Reader::attr_ints(const std::string& name) const {
  return read_array_attr<int64_t>(file_, path_, name);
}

bool H5Reader::attr_is_string(const std::string& name) const {
  if (!has_attr(name)) return false;
  Handle a{H5Aopen(file_, name.c_str(), H5P_DEFAULT), H5Aclose};
  Handle type{a.id >= 0 ? H5Aget_type(a.id) : -1, H5Tclose};
  return type.id >= 0 && H5Tget_class(type.id) == H5T_STRING;
}

std::string H5Reader::attr_string(const std::string& name) const {
  if (!has_attr(name)) fail(path_, "missing attribute '" + name + "'");
  Handle a{H5Aopen(file_, name.c_str(), H5P_DEFAULT), H5Aclose};
  Handle type{H5Aget_type(a.id), H5Tclose};
  if (H5Tget_class(type.id) != H5T_STRING) fail(path_, "attribute '" + name + "' is not a string");
  if (attribute_values(a.id, path_, name, 1) != 1) fail(path_, "attribute '" + name + "' holds no string");
  // The memory type takes the file's character set (h5py writes UTF-8) and, for fixed-length strings, one more
  // byte than stored so a string filling its whole size keeps its last character next to the terminating NUL.
  Handle mem{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_cset(mem.id, H5Tget_cset(type.id));
  if (H5Tis_variable_str(type.id) > 0) {
    char* s = nullptr;
    H5Tset_size(mem.id, H5T_VARIABLE);
    if (H5Aread(a.id, mem.id, &s) < 0) fail(path_, "cannot read attribute '" + name + "'");
    std::string out = s ? s : "";
    H5free_memory(s);
    return out;
  }
  const size_t size = H5Tget_size(type.id);
  std::string out(size + 1, '\0');
  H5Tset_size(mem.id, size + 1);
  if (H5Aread(a.id, mem.id, &out[0]) < 0) fail(path_, "cannot read attribute '" + name + "'");
  out.resize(out.find('\0'));
  return out;
}

// ---- writer ---------------------------------------------------------------------------------------------

H5Writer::H5Writer(const std::string& path) : path_(path), tmp_path_(path + ".tmp") {
  silence_hdf5_errors();
  set_pending_file(tmp_path_);
  file_ = H5Fcreate(tmp_path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file_ < 0) {
    std::remove(tmp_path_.c_str());  // whatever HDF5 left there (a full disk can fail the create itself)
    clear_pending_file(tmp_path_);
    fail(path, "cannot create file (is the folder writable? is the disk full?)");
  }
}

H5Writer::~H5Writer() {
  close();
  if (!committed_) std::remove(tmp_path_.c_str());
  clear_pending_file(tmp_path_);
}

bool H5Writer::close() {
  const bool ok = file_ < 0 || H5Fclose(file_) >= 0;
  file_ = -1;
  return ok;
}

void H5Writer::write(const std::string& name, const Shape& shape, const float* data) {
  write_dataset(file_, path_, name, shape, data);
}
void H5Writer::write(const std::string& name, const Shape& shape, const double* data) {
  write_dataset(file_, path_, name, shape, data);
}
void H5Writer::write(const std::string& name, const Shape& shape, const int64_t* data) {
  write_dataset(file_, path_, name, shape, data);
}

void H5Writer::set_attr(const std::string& name, double value) { write_scalar_attr(file_, path_, name, value); }
void H5Writer::set_attr(const std::string& name, int64_t value) { write_scalar_attr(file_, path_, name, value); }
void H5Writer::set_attr(const std::string& name, uint64_t value) { write_scalar_attr(file_, path_, name, value); }
void H5Writer::set_attr(const std::string& name, const std::vector<double>& values) {
  write_array_attr(file_, path_, name, values);
}
void H5Writer::set_attr(const std::string& name, const std::vector<int64_t>& values) {
  write_array_attr(file_, path_, name, values);
}

void H5Writer::set_attr(const std::string& name, const std::string& value) {
  if (H5Aexists(file_, name.c_str()) > 0) H5Adelete(file_, name.c_str());
  Handle type{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(type.id, value.size() + 1);
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  Handle a{H5Acreate2(file_, name.c_str(), type.id, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (a.id < 0 || H5Awrite(a.id, type.id, value.c_str()) < 0) fail(path_, "cannot write attribute '" + name + "'");
}

void H5Writer::commit() {
  if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) fail(path_, "cannot flush (disk full?)");
  if (!close()) fail(path_, "cannot close the temporary file (disk full?)");
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) fail(path_, "cannot rename the temporary file into place");
  committed_ = true;
}

}  // namespace stfpm
