#include "io/json_writer.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>

namespace stfpm {

namespace {

int64_t checked_int64(unsigned long long v) {
  if (v > static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()))
    throw std::out_of_range("Json: integer " + std::to_string(v) + " does not fit in int64");
  return static_cast<int64_t>(v);
}

void newline(std::string& out, int indent, int depth) {
  if (indent <= 0) return;
  out += '\n';
  out.append(size_t(indent) * size_t(depth), ' ');
}

}  // namespace

Json::Json(unsigned long v) : type_(Type::integer), int_(checked_int64(v)) {}
Json::Json(unsigned long long v) : type_(Type::integer), int_(checked_int64(v)) {}

Json Json::array(const std::vector<double>& values) {
  Json a(Type::array);
  a.items_.reserve(values.size());
  for (double v : values) a.items_.emplace_back(v);
  return a;
}

Json& Json::set(const std::string& key, Json value) {
  if (type_ != Type::object) throw std::logic_error("Json::set('" + key + "') on a value that is not an object");
  for (auto& member : members_) {
    if (member.first == key) {
      member.second = std::move(value);
      return *this;
    }
  }
  members_.emplace_back(key, std::move(value));
  return *this;
}

Json& Json::push(Json value) {
  if (type_ != Type::array) throw std::logic_error("Json::push on a value that is not an array");
  items_.push_back(std::move(value));
  return *this;
}

const Json* Json::find(const std::string& key) const {
  for (const auto& member : members_)
    if (member.first == key) return &member.second;
  return nullptr;
}

size_t Json::size() const {
  if (type_ == Type::array) return items_.size();
  if (type_ == Type::object) return members_.size();
  return 0;
}

std::string Json::dump(int indent) const {
  std::string out;
  dump_to(out, indent, 0);
  return out;
}

void Json::dump_to(std::string& out, int indent, int depth) const {
  switch (type_) {
    case Type::null: out += "null"; return;
    case Type::boolean: out += bool_ ? "true" : "false"; return;
    case Type::integer: out += std::to_string(int_); return;
    case Type::number: out += single_ ? json_number(float(num_)) : json_number(num_); return;
    case Type::string: out += json_quote(str_); return;
    case Type::array:
    case Type::object: break;
  }
  const bool is_array = type_ == Type::array;
  const size_t n = size();
  out += is_array ? '[' : '{';
  if (n == 0) {
    out += is_array ? ']' : '}';
    return;
  }
  // Arrays of plain numbers (curves, per-level values) stay on one line: one number per line would make a
  // 1000-point PRO curve a 1000-line block.
  bool flat = is_array;
  for (size_t i = 0; flat && i < n; ++i) flat = items_[i].type_ == Type::integer || items_[i].type_ == Type::number;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ',';
    if (flat) {
      if (i && indent > 0) out += ' ';
    } else {
      newline(out, indent, depth + 1);
    }
    if (is_array) {
      items_[i].dump_to(out, indent, depth + 1);
    } else {
      out += json_quote(members_[i].first);
      out += indent > 0 ? ": " : ":";
      members_[i].second.dump_to(out, indent, depth + 1);
    }
  }
  if (!flat) newline(out, indent, depth);
  out += is_array ? ']' : '}';
}

std::string json_quote(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  // std::to_chars without a precision gives the shortest representation that round-trips.
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

std::string json_number(float v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  auto fail = [&](int err) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(err));
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

void write_json_file(const std::string& path, const Json& value, int indent) {
  write_file_atomic(path, value.dump(indent) + "\n");
}

}  // namespace stfpm
