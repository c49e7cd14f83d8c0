// A small JSON document builder for metrics.json and other reports: objects (keys kept in insertion order, so
// files are stable and diffable), arrays, numbers, strings, booleans and null, pretty-printed. Also the file
// helpers every report writer uses: atomic writes and creating missing output folders.
//
// Numbers: integers are printed exactly; doubles with the shortest text that reads back to the same double
// (0.1 prints as 0.1, not 0.10000000000000001). NaN and +-Inf are not JSON, so they are written as null: an
// undefined metric (e.g. ROC-AUC without defect images) reads back as null/None in every JSON library.
// Strings are UTF-8 and written as given, with ", \, and control characters escaped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace stfpm {

class Json {
 public:
  enum class Type { null, boolean, integer, number, string, array, object };

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : type_(Type::boolean), bool_(b) {}
  Json(int v) : type_(Type::integer), int_(v) {}
  Json(long v) : type_(Type::integer), int_(v) {}
  Json(long long v) : type_(Type::integer), int_(v) {}
  Json(unsigned v) : type_(Type::integer), int_(v) {}
  Json(unsigned long v);  // throws std::out_of_range above INT64_MAX
  Json(unsigned long long v);
  Json(double v) : type_(Type::number), num_(v) {}
  Json(float v) : type_(Type::number), num_(v), single_(true) {}  // printed as the shortest float text
  Json(const char* s) : type_(Type::string), str_(s) {}
  Json(std::string s) : type_(Type::string), str_(std::move(s)) {}

  static Json array() { return Json(Type::array); }
  static Json object() { return Json(Type::object); }
  // An array of numbers, e.g. a PRO curve.
  static Json array(const std::vector<double>& values);

  Type type() const { return type_; }

  // Objects: sets `key`, replacing the value of an existing key in place (its position is kept). Returns *this
  // so calls chain. Throws std::logic_error on a non-object.
  Json& set(const std::string& key, Json value);
  // Arrays: appends. Throws std::logic_error on a non-array.
  Json& push(Json value);
  // Objects: the value of `key`, or null when absent (test and lookup convenience).
  const Json* find(const std::string& key) const;
  size_t size() const;  // elements of an array or members of an object, else 0

  // Pretty-printed with `indent` spaces per level (0: one line), no trailing newline.
  std::string dump(int indent = 2) const;

 private:
  explicit Json(Type t) : type_(t) {}
  void dump_to(std::string& out, int indent, int depth) const;

  Type type_ = Type::null;
  bool bool_ = false;
  int64_t int_ = 0;
  double num_ = 0.0;
  bool single_ = false;  // a float: 0.1f prints as 0.1, not as the double 0.10000000149011612
  std::string str_;
  std::vector<Json> items_;                           // array elements
  std::vector<std::pair<std::string, Json>> members_;  // object members, in insertion order
};

// JSON text of a string value, quotes included.
std::string json_quote(const std::string& s);
// Shortest round-trip text of a double (or of a float); "null" for NaN and +-Inf.
std::string json_number(double v);
std::string json_number(float v);

// Writes `contents` to "<path>.tmp" and renames it to `path`, so readers never see a half-written file. Throws
// std::runtime_error "cannot write <path>: <reason>" (missing folder, no permission, disk full); the temporary
// file is removed on failure.
void write_file_atomic(const std::string& path, const std::string& contents);
// Creates the folder that will hold `path` (and its parents) when missing. Throws std::runtime_error
// "cannot create folder <dir> for <path>: <reason>".
void create_parent_dirs(const std::string& path);
// dump() plus a final newline, written atomically.
void write_json_file(const std::string& path, const Json& value, int indent = 2);

}  // namespace stfpm
