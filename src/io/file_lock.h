// An advisory lock on a folder's ".lock" file (flock), held while an object lives: two processes cannot both hold
// it, and the kernel drops it when the holder exits or is killed (even by SIGKILL), so a crashed run never leaves
// it stuck. The file records the holder's pid and start time for the message the next process prints.
#pragma once

#include <string>

namespace stfpm {

class FolderLock {
 public:
  // Takes the lock of `folder` (which must exist) or throws std::runtime_error
  // "<folder>: in use by another <what> (pid N since <time>)" naming `what`.
  FolderLock(const std::string& folder, const std::string& what);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace stfpm
