// The fuzz targets' bodies, one per input format. Each takes any bytes; rejecting them with an exception is fine,
// while a crash, a sanitizer report or a broken invariant (__builtin_trap) is a bug. The libFuzzer programs
// (STFPM_FUZZ_MAIN) call them from LLVMFuzzerTestOneInput; the test suite replays the inputs that once crashed
// them (tests/test_fuzz_regressions.cpp), so those stay fixed in every build, sanitized or not.
#pragma once

#include <cstddef>
#include <cstdint>

namespace stfpm_fuzz {

void run_image(const uint8_t* data, size_t size);  // image decoding, resize, normalization
void run_mask(const uint8_t* data, size_t size);   // mask loading and binarization
void run_tiff(const uint8_t* data, size_t size);   // the TIFF map reader
void run_hdf5(const uint8_t* data, size_t size);   // checkpoints and the tensor reader
void run_cli(const uint8_t* data, size_t size);    // the command-line parser

}  // namespace stfpm_fuzz

// The libFuzzer entry point of a target program, calling its body.
#ifdef STFPM_FUZZ_MAIN
#define STFPM_FUZZ_ENTRY(body)                                                  \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    stfpm_fuzz::body(data, size);                                               \
    return 0;                                                                   \
  }
#else
#define STFPM_FUZZ_ENTRY(body)
#endif
