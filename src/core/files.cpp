#include "core/files.h"

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace stfpm {

namespace {

// The registered temporary file: a fixed buffer a signal handler can read; `pending_set` says it is valid.
char pending_path[4096];
std::atomic<bool> pending_set{false};

}  // namespace

void set_pending_file(const std::string& path) {
  if (path.size() >= sizeof pending_path) return;  // too long to register: left to the next run to overwrite
  pending_set.store(false);
  std::memcpy(pending_path, path.c_str(), path.size() + 1);
  pending_set.store(true);
}

void clear_pending_file(const std::string& path) {
  if (pending_set.load() && path == pending_path) pending_set.store(false);
}

void remove_pending_file() noexcept {
  if (pending_set.load()) ::unlink(pending_path);
}

void write_file_atomic(const std::string& path, const std::string& contents, const std::string& kind) {
  const std::string tmp = path + ".tmp";
  set_pending_file(tmp);
  auto fail = [&](int err) {
    std::remove(tmp.c_str());
    clear_pending_file(tmp);
    throw std::runtime_error(kind.empty() ? "cannot write " + path + ": " + std::strerror(err)
                                          : path + ": cannot write " + kind + ": " + std::strerror(err));
  };
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(errno);
  const bool written = std::fwrite(contents.data(), 1, contents.size(), f) == contents.size();
  int err = errno;
  const bool flushed = std::fflush(f) == 0;
  if (written && !flushed) err = errno;
  const bool closed = std::fclose(f) == 0;
  if (written && flushed && !closed) err = errno;
  if (!written || !flushed || !closed) fail(err);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(errno);
  clear_pending_file(tmp);
}

void create_parent_dirs(const std::string& path) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // create_directories reports no error when the folder exists; a file in the way or a missing permission does.
  if (ec || !std::filesystem::is_directory(dir))
    throw std::runtime_error("cannot create folder " + dir.string() + " for " + path + ": " +
                             (ec ? ec.message() : std::string("not a folder")));
}

void ensure_writable_dir(const std::string& dir) {
  const std::string probe = dir + "/.stfpm_write_test";
  create_parent_dirs(probe);
  std::ofstream out(probe);
  if (!out) throw std::runtime_error(dir + ": folder is not writable");
  out.close();
  std::remove(probe.c_str());
}

std::vector<std::string> binary_folders() {
  std::vector<std::string> out;
  auto add_folder_of = [&out](const std::string& file) {
    if (file.empty() || file[0] != '/') return;
    const std::string folder = file.substr(0, file.find_last_of('/'));
    for (const std::string& f : out)
      if (f == folder) return;
    out.push_back(folder.empty() ? "/" : folder);
  };
  // dladdr names the main program by argv[0], which may be relative or a bare name: realpath resolves it
  // against the current folder only when it names a file there, and /proc/self/exe is the program's real path.
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&binary_folders), &info) && info.dli_fname &&
      std::strchr(info.dli_fname, '/')) {
    if (char* real = realpath(info.dli_fname, nullptr)) {
      add_folder_of(real);
      std::free(real);
    }
  }
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) add_folder_of(std::string(exe, size_t(n)));
  return out;
}

}  // namespace stfpm
