// The fuzz input as a file: our loaders take paths (stb, libtiff and HDF5 open files themselves), so each input is
// written to a file of this process in /dev/shm (memory, not disk; /tmp where there is none) and removed after the
// call. (An anonymous memfd's /proc/self/fd path would be simpler, but HDF5 resolves it to a name it cannot open.)
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace stfpm_fuzz {

class InputFile {
 public:
  InputFile(const uint8_t* data, size_t size) {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    path_ = std::string(dir) + "/stfpm-fuzz-" + std::to_string(getpid());
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) std::abort();
  }
  ~InputFile() { std::remove(path_.c_str()); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace stfpm_fuzz
