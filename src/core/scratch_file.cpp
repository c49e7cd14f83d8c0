#include "core/scratch_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace stfpm {

ScratchFile::ScratchFile(const std::string& folder) : folder_(folder.empty() ? "." : folder) {
  std::string pattern = folder_ + "/.stfpm-scratch-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  fd_ = mkostemp(name.data(), O_CLOEXEC);
  if (fd_ < 0)
    throw std::runtime_error("cannot create a scratch file in " + folder_ + ": " + std::strerror(errno));
  unlink(name.data());  // nameless from now on: closing the descriptor frees the space, whatever happens
}

ScratchFile::~ScratchFile() {
  if (fd_ >= 0) close(fd_);
}

uint64_t ScratchFile::append(const void* data, size_t n) {
  const uint64_t at = size_;
  const char* p = static_cast<const char*>(data);
  for (size_t done = 0; done < n;) {
    const ssize_t w = pwrite(fd_, p + done, n - done, off_t(at + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      throw std::runtime_error("cannot write a scratch file in " + folder_ + ": " +
                               (w < 0 ? std::strerror(errno) : "no space left"));
    done += size_t(w);
  }
  size_ += n;
  return at;
}

void ScratchFile::read(uint64_t offset, void* out, size_t n) const {
  if (offset > size_ || n > size_ - offset) throw std::logic_error("ScratchFile::read past the end");
  char* p = static_cast<char*>(out);
  for (size_t done = 0; done < n;) {
    const ssize_t r = pread(fd_, p + done, n - done, off_t(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      throw std::runtime_error("cannot read a scratch file in " + folder_ + ": " +
                               (r < 0 ? std::strerror(errno) : "unexpected end"));
    done += size_t(r);
  }
}

}  // namespace stfpm
