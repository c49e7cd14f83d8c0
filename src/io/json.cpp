#include "io/json.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/files.h"

namespace stfpm {

double json_float(float v) {
  if (!std::isfinite(v)) return double(v);
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf - 1, v);
  *r.ptr = '\0';
  return std::strtod(buf, nullptr);
}

void write_json_file(const std::string& path, const Json& value, int indent) {
  write_file_atomic(path, value.dump(indent, ' ', false, Json::error_handler_t::replace) + "\n");
}

}  // namespace stfpm
