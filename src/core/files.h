// File helpers every writer uses: atomic writes, creating missing output folders, checking a folder is writable.
#pragma once

#include <string>
#include <vector>

namespace stfpm {

// Writes `contents` to "<path>.tmp" and renames it to `path`, so readers never see a half-written file. Throws
// std::runtime_error "cannot write <path>: <reason>" (missing folder, no permission, disk full); the temporary
// file is removed on failure.
// With `kind` ("PNG"), the message reads "<path>: cannot write PNG: <reason>".
void write_file_atomic(const std::string& path, const std::string& contents, const std::string& kind = "");
// Creates the folder that will hold `path` (and its parents) when missing. Throws std::runtime_error
// "cannot create folder <dir> for <path>: <reason>".
void create_parent_dirs(const std::string& path);
// Creates `dir` if needed and checks a file can be written there; throws naming the folder otherwise.
void ensure_writable_dir(const std::string& dir);

// The temporary file an atomic write has open right now, so that a process ending at once (a second Ctrl-C) can
// remove it: writers register it while it exists (one at a time; later writers replace it) and clear it when it
// has been renamed or removed.
void set_pending_file(const std::string& path);
void clear_pending_file(const std::string& path);
// Removes the registered temporary file, if any. Async-signal-safe: for a signal handler about to _exit().
void remove_pending_file() noexcept;

// The folders, absolute and with links resolved, of the binary that holds this code (the program itself with a
// static libstfpm, else libstfpm.so) and of the running program: where installed files are found relative to
// the binaries, so that a moved prefix still works. Never a folder relative to the current one.
std::vector<std::string> binary_folders();

}  // namespace stfpm
