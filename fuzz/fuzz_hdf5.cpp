// Fuzz target: HDF5 files as stfpm reads them: a student checkpoint (the header with the recipe, then the tensors
// and the momentum into a model, with every shape, type and finiteness check), and the tensor reader's calls on
// names that checkpoints and teachers use. The model is built once; loading into it is what `--resume`, `test`
// and `predict` do. libhdf5 itself is not instrumented (Debian's build): crashes inside it are reported by the
// sanitizer's signal handler all the same.
#include <exception>
#include <string>

#include "cpu/cpu_backend.h"
#include "fuzz_input.h"
#include "fuzz_targets.h"
#include "io/hdf5_io.h"
#include "model/checkpoint.h"
#include "model/stfpm_model.h"

using namespace stfpm;

namespace {

StfpmModel& model() {
  static CpuBackend backend;
  static StfpmModel m(backend, Recipe{});
  return m;
}

// Each call on its own: one that throws does not hide the next.
template <typename F>
void attempt(F f) {
  try {
    f();
  } catch (const std::exception&) {
  }
}

void read_everything(const H5Reader& in) {
  for (const char* name : {"conv1.weight", "bn1.running_var", "optimizer/momentum/conv1.weight", "x", "a/b"}) {
    if (!in.has(name)) continue;
    attempt([&] { in.shape(name); });
    attempt([&] { in.type_name(name); });
    attempt([&] { in.read_floats(name); });
    attempt([&] { in.read_floats(name, Shape{64, 3, 7, 7}); });
    attempt([&] { in.read_doubles(name); });
    attempt([&] { in.read_ints(name); });
    attempt([&] { in.read_tensor(name); });
  }
  for (const char* name : {"format", "epoch", "steps", "category", "layers", "alphas", "mean", "seed", "size"}) {
    if (!in.has_attr(name)) continue;
    attempt([&] { in.attr_is_string(name); });
    attempt([&] { in.attr_string(name); });
    attempt([&] { in.attr_int(name); });
    attempt([&] { in.attr_uint(name); });
    attempt([&] { in.attr_double(name); });
    attempt([&] { in.attr_doubles(name); });
    attempt([&] { in.attr_ints(name); });
  }
}

}  // namespace

void stfpm_fuzz::run_hdf5(const uint8_t* data, size_t size) {
  StfpmModel& m = model();
  const stfpm_fuzz::InputFile file(data, size);
  attempt([&] { read_checkpoint_info(file.path()); });
  attempt([&] { load_checkpoint(file.path(), m, true); });
  attempt([&] { read_everything(H5Reader(file.path())); });
}

STFPM_FUZZ_ENTRY(run_hdf5)
