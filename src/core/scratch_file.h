// A temporary file without a name, for data that would otherwise have to stay in memory (the maps `test` keeps
// for its reports, the evaluator's sorted runs of pixels). It is created in a given folder and unlinked at once,
// so a crash or a kill leaves nothing behind and the disk space comes back when it is closed. Written once by
// appending, then read back as often as needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace stfpm {

class ScratchFile {
 public:
  // Throws std::runtime_error "cannot create a scratch file in <folder>: <reason>".
  explicit ScratchFile(const std::string& folder);
  ~ScratchFile();
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  // Appends n bytes and returns the offset they start at. Throws naming the folder (disk full, say).
  uint64_t append(const void* data, size_t n);
  // Reads n bytes at `offset`, which must lie within what was appended (std::logic_error otherwise).
  void read(uint64_t offset, void* out, size_t n) const;
  uint64_t size() const { return size_; }

 private:
  std::string folder_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace stfpm
