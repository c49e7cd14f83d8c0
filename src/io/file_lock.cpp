#include "io/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace stfpm {

FolderLock::FolderLock(const std::string& folder, const std::string& what) {
  const std::string path = folder + "/.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error(path + ": cannot open the lock file: " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char holder[128] = {0};
    const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK)
      throw std::runtime_error(path + ": cannot lock: " + std::strerror(err));
    std::string who = n > 0 ? std::string(holder, size_t(n)) : std::string("unknown pid");
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
    throw std::runtime_error(folder + ": in use by another " + what + " (" + who +
                             "); wait for it to finish or use another folder");
  }
  char text[128];
  const std::time_t now = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  const int len = std::snprintf(text, sizeof text, "pid %ld since %s\n", long(::getpid()), when);
  if (::ftruncate(fd_, 0) == 0 && len > 0) {
    const ssize_t written = ::pwrite(fd_, text, size_t(len), 0);
    (void)written;  // the text only improves the next process's message
  }
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace stfpm
