// Wider vectors chosen at run time for the CPU backend's own loops. The build targets the compiler's baseline
// (STFPM_ARCH_FLAGS adds nothing by default), so on x86-64 each function marked STFPM_VECTOR_CLONES is compiled
// twice, for the baseline and for x86-64-v3 (AVX2, FMA), and the loader picks the version the CPU runs (GCC's
// target_clones, an ifunc). OpenMP regions inside such a function are cloned with it. Elsewhere, or when the flags
// already enable AVX2, the mark is empty. Virtual functions cannot be cloned: the marked functions are the
// file-local loops the backend's methods call.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__AVX2__)
#define STFPM_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define STFPM_VECTOR_CLONES
#endif
