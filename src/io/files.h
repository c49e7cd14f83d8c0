// File helpers every writer uses: atomic writes, creating missing output folders, checking a folder is writable.
#pragma once

#include <string>

namespace stfpm {

// Writes `contents` to "<path>.tmp" and renames it to `path`, so readers never see a half-written file. Throws
// std::runtime_error "cannot write <path>: <reason>" (missing folder, no permission, disk full); the temporary
// file is removed on failure.
void write_file_atomic(const std::string& path, const std::string& contents);
// Creates the folder that will hold `path` (and its parents) when missing. Throws std::runtime_error
// "cannot create folder <dir> for <path>: <reason>".
void create_parent_dirs(const std::string& path);
// Creates `dir` if needed and checks a file can be written there; throws naming the folder otherwise.
void ensure_writable_dir(const std::string& dir);

}  // namespace stfpm
