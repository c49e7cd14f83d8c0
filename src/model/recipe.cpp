#include "model/recipe.h"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <climits>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>
#include <type_traits>
#include <variant>

#include "io/hdf5_io.h"

namespace stfpm {
namespace {

// The member a field stands for; every operation below is a std::visit over it.
using Member = std::variant<int Recipe::*, float Recipe::*, uint64_t Recipe::*, std::vector<int> Recipe::*,
                            std::vector<float> Recipe::*, std::array<float, 3> Recipe::*>;

struct Field {
  RecipeField info;
  Member member;
  const char* attribute;  // the checkpoint attribute
  bool positive;          // integers: at least 1
};

const std::vector<Field>& table() {
  static const std::vector<Field> fields = {
      {{"size", {}, "PX", "images are resized to PX x PX (default 256; synth: image size, default 128)", false, true},
       &Recipe::size, "size", true},
      {{"layers", {}, "L,..", "pyramid levels used, from 1 2 3 (default 1,2,3)", true, true}, &Recipe::layers,
       "layers", false},
      {{"alphas", {}, "A,..", "loss weight per used level (default 1,1,1)", true, false}, &Recipe::alphas, "alphas",
       false},
      {{"mean", {}, "R,G,B", "normalization mean (default ImageNet's 0.485,0.456,0.406)", true, true}, &Recipe::mean,
       "mean", false},
      {{"std", {}, "R,G,B", "normalization std (default ImageNet's 0.229,0.224,0.225)", true, true}, &Recipe::std,
       "std", false},
      {{"lr", {}, "X", "SGD learning rate (default 0.4)", false, false}, &Recipe::lr, "lr", false},
      {{"momentum", {}, "X", "SGD momentum (default 0.9)", false, false}, &Recipe::momentum, "momentum", false},
      {{"wd", {"weight_decay"}, "X", "SGD weight decay (default 1e-4)", false, false}, &Recipe::weight_decay,
       "weight_decay", false},
      {{"batch_size", {}, "N", "images per step (default 32; the last partial batch is kept)", false, false},
       &Recipe::batch_size, "batch_size", true},
      {{"epochs", {}, "N", "training epochs (default 100)", false, false}, &Recipe::epochs, "epochs", true},
      {{"seed", {}, "N", "seed of the student's initialization and the shuffling (default 0)", false, false},
       &Recipe::seed, "seed", false},
  };
  return fields;
}

const Field& field(const std::string& name) {
  for (const Field& f : table()) {
    if (f.info.name == name) return f;
    for (const std::string& a : f.info.aliases)
      if (a == name) return f;
  }
  throw Error("unknown recipe field '" + name + "'");
}

template <typename T>
T parse_number(const std::string& flag, const std::string& text) {
  std::istringstream in(text);
  T value;
  // Unsigned extraction accepts "-1" (it wraps); refuse a sign for the seed.
  if ((std::is_unsigned<T>::value && text.find('-') != std::string::npos) || !(in >> value) ||
      !(in >> std::ws).eof())
    throw Error("--" + flag + ": '" + text + "' is not a valid number");
  return value;
}

// "1,2,3", or separate tokens "1 2 3" (argparse's nargs='+').
std::vector<std::string> split_values(const std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  for (const std::string& t : tokens) {
    std::stringstream ss(t);
    for (std::string item; std::getline(ss, item, ',');)
      if (!item.empty()) out.push_back(item);
  }
  return out;
}

template <typename T>
std::vector<T> number_list(const std::string& flag, const std::vector<std::string>& tokens) {
  std::vector<T> out;
  for (const std::string& s : split_values(tokens)) out.push_back(parse_number<T>(flag, s));
  if (out.empty()) throw Error("--" + flag + " needs at least one value");
  return out;
}

// Shortest text that reads back to the same value, %g-style: 0.4f is "0.4" (not "0.400000006"), 1e-4f "0.0001".
template <typename T>
std::string number_text(T v) {
  char buf[32];
  std::to_chars_result r;
  if constexpr (std::is_floating_point<T>::value)
    r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  else
    r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

template <typename T>
std::string list_text(const T& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ",") + number_text(v);
  return out;
}

void set_field(Recipe& r, const Field& f, const std::vector<std::string>& v) {
  const std::string& flag = f.info.name;
  std::visit(
      [&](auto member) {
        using T = std::decay_t<decltype(r.*member)>;
        if constexpr (std::is_same<T, int>::value) {
          if (v.size() != 1) throw Error("--" + flag + " takes one value");
          const int x = parse_number<int>(flag, v[0]);
          if (f.positive && x < 1) throw Error("--" + flag + " must be at least 1, got " + v[0]);
          r.*member = x;
        } else if constexpr (std::is_same<T, float>::value || std::is_same<T, uint64_t>::value) {
          if (v.size() != 1) throw Error("--" + flag + " takes one value");
          r.*member = parse_number<T>(flag, v[0]);
        } else if constexpr (std::is_same<T, std::array<float, 3>>::value) {
          const std::vector<float> x = number_list<float>(flag, v);
          if (x.size() != 3)
            throw Error("--" + flag + " needs 3 values (R G B), got " + std::to_string(x.size()));
          std::copy(x.begin(), x.end(), (r.*member).begin());
        } else {
          r.*member = number_list<typename T::value_type>(flag, v);
        }
      },
      f.member);
}

std::string field_text(const Recipe& r, const Field& f) {
  return std::visit(
      [&](auto member) -> std::string {
        using T = std::decay_t<decltype(r.*member)>;
        if constexpr (std::is_arithmetic<T>::value)
          return number_text(r.*member);
        else
          return list_text(r.*member);
      },
      f.member);
}

bool field_equal(const Recipe& a, const Recipe& b, const Field& f) {
  return std::visit([&](auto member) { return a.*member == b.*member; }, f.member);
}

void write_field(H5Writer& out, const Recipe& r, const Field& f) {
  std::visit(
      [&](auto member) {
        using T = std::decay_t<decltype(r.*member)>;
        const T& v = r.*member;
        if constexpr (std::is_same<T, int>::value)
          out.set_attr(f.attribute, int64_t(v));
        else if constexpr (std::is_same<T, uint64_t>::value)
          out.set_attr(f.attribute, v);
        else if constexpr (std::is_same<T, float>::value)
          out.set_attr(f.attribute, double(v));
        else if constexpr (std::is_same<T, std::vector<int>>::value)
          out.set_attr(f.attribute, std::vector<int64_t>(v.begin(), v.end()));
        else
          out.set_attr(f.attribute, std::vector<double>(v.begin(), v.end()));
      },
      f.member);
}

void read_field(const H5Reader& in, Recipe& r, const Field& f) {
  if (in.attr_is_string(f.attribute)) {  // version 1: lists and the seed as text
    set_field(r, f, {in.attr_string(f.attribute)});
    return;
  }
  // Stored numbers are converted only when they fit: an out-of-range conversion to int or float is undefined (a
  // corrupt file reached it under the fuzzer); validate() judges the values afterwards.
  auto out_of_range = [&](double v) {
    return Error(in.path() + ": attribute '" + f.attribute + "' holds " + std::to_string(v) + ", out of range");
  };
  auto to_int = [&](double v) {
    if (!(v >= double(INT_MIN) && v <= double(INT_MAX)) || v != std::floor(v)) throw out_of_range(v);
    return int(v);
  };
  auto to_float = [&](double v) {
    if (std::isfinite(v) && std::fabs(v) > double(FLT_MAX)) throw out_of_range(v);
    return float(v);
  };
  std::visit(
      [&](auto member) {
        using T = std::decay_t<decltype(r.*member)>;
        if constexpr (std::is_same<T, int>::value) {
          const int64_t v = in.attr_int(f.attribute);
          if (v < INT_MIN || v > INT_MAX) throw out_of_range(double(v));
          r.*member = int(v);
        } else if constexpr (std::is_same<T, uint64_t>::value) {
          r.*member = in.attr_uint(f.attribute);
        } else if constexpr (std::is_same<T, float>::value) {
          r.*member = to_float(in.attr_double(f.attribute));
        } else {
          const std::vector<double> v = in.attr_doubles(f.attribute);
          T& out = r.*member;
          if constexpr (std::is_same<T, std::array<float, 3>>::value) {
            if (v.size() != 3) throw Error(in.path() + ": attribute '" + f.attribute + "' needs 3 values");
            for (size_t i = 0; i < 3; ++i) out[i] = to_float(v[i]);
          } else {
            out.assign(v.size(), typename T::value_type{});
            for (size_t i = 0; i < v.size(); ++i) {
              if constexpr (std::is_same<typename T::value_type, int>::value) out[i] = to_int(v[i]);
              else out[i] = to_float(v[i]);
            }
          }
        }
      },
      f.member);
}

// The side of pyramid level `layer` (1..3) for a size x size input: conv1 (7x7, stride 2, pad 3), the max-pool
// (3x3, stride 2, pad 1) before layer1, and the 3x3 stride-2 first convolutions of layer2 and layer3.
int level_side(int size, int layer) {
  auto halve = [](int x) { return (x - 1) / 2 + 1; };  // (x + 2 * pad - kernel) / 2 + 1 for both shapes
  int side = halve(halve(size));
  for (int l = 2; l <= layer; ++l) side = halve(side);
  return side;
}

}  // namespace

const std::vector<RecipeField>& recipe_fields() {
  static const std::vector<RecipeField> fields = [] {
    std::vector<RecipeField> out;
    for (const Field& f : table()) out.push_back(f.info);
    return out;
  }();
  return fields;
}

void set_recipe_field(Recipe& recipe, const std::string& name, const std::vector<std::string>& values) {
  Recipe changed = recipe;
  set_field(changed, field(name), values);
  recipe = changed;
}

std::string recipe_field_text(const Recipe& recipe, const std::string& name) {
  return field_text(recipe, field(name));
}

void validate(const Recipe& r) {
  for (const Field& f : table()) {
    const auto* member = std::get_if<int Recipe::*>(&f.member);
    if (member && f.positive && r.**member < 1)
      throw Error("--" + f.info.name + " must be at least 1, got " + field_text(r, f));
  }
  if (r.layers.empty()) throw Error("--layers: at least one of 1, 2, 3");
  std::set<int> seen;
  for (int l : r.layers)
    if (l < 1 || l > 3 || !seen.insert(l).second)
      throw Error("--layers: " + std::to_string(l) + " is not a distinct layer among 1, 2, 3");
  // Every used pyramid level must keep at least 2x2 pixels (layer1..3 are the input downsampled about 4, 8, 16
  // times): a 1x1 level has no neighbourhood and its map is one number.
  const int deepest = *std::max_element(r.layers.begin(), r.layers.end());
  if (level_side(r.size, deepest) < 2) {
    int minimum = r.size;
    while (level_side(minimum, deepest) < 2) ++minimum;
    throw Error("--size " + std::to_string(r.size) + ": layer" + std::to_string(deepest) + " would be " +
                std::to_string(level_side(r.size, deepest)) + "x" + std::to_string(level_side(r.size, deepest)) +
                "; every used pyramid level must be at least 2x2, so --size must be at least " +
                std::to_string(minimum) + " with layer" + std::to_string(deepest));
  }
  if (r.alphas.size() != r.layers.size())
    throw Error("--alphas: " + std::to_string(r.alphas.size()) + " weights for " + std::to_string(r.layers.size()) +
                " layers");
  for (float a : r.alphas)
    if (!std::isfinite(a) || a < 0) throw Error("--alphas: weights must be finite and >= 0");
  for (float s : r.std)
    if (!(s > 0)) throw Error("--std values must be positive");
  // Normalized pixels (v - mean) / std for v in [0, 1] must be finite floats: an infinite input is refused here,
  // not discovered as a NaN loss later.
  for (size_t c = 0; c < 3; ++c) {
    if (!std::isfinite(r.mean[c])) throw Error("--mean values must be finite numbers");
    const double reach = std::max(std::fabs(double(r.mean[c])), std::fabs(1.0 - r.mean[c])) / r.std[c];
    if (!(reach <= double(std::numeric_limits<float>::max())))
      throw Error("--std " + field_text(r, field("std")) + ": normalized pixels would overflow a float (up to " +
                  number_text(reach) + ")");
  }
  if (!(r.lr > 0) || !std::isfinite(r.lr)) throw Error("--lr must be a positive number");
  if (!(r.momentum >= 0 && r.momentum < 1)) throw Error("--momentum must be in [0, 1)");
  if (!(r.weight_decay >= 0) || !std::isfinite(r.weight_decay)) throw Error("--wd must be >= 0");
}

void write_recipe(H5Writer& out, const Recipe& recipe) {
  for (const Field& f : table()) write_field(out, recipe, f);
}

Recipe read_recipe(const H5Reader& in) {
  Recipe r;
  for (const Field& f : table()) read_field(in, r, f);
  return r;
}

void require_same(const std::string& path, const Recipe& wanted, const Recipe& saved,
                  const std::vector<std::string>& fields) {
  for (const std::string& name : fields) {
    const Field& f = field(name);
    if (!field_equal(wanted, saved, f))
      throw Error(path + ": checkpoint from another configuration: --" + f.info.name + " is " +
                  field_text(wanted, f) + " here but " + field_text(saved, f) + " in the checkpoint");
  }
}

std::vector<std::string> resume_fields() {
  std::vector<std::string> out;
  for (const Field& f : table())
    if (f.info.name != "epochs") out.push_back(f.info.name);
  return out;
}

std::vector<std::string> checkpoint_fixed_fields() {
  std::vector<std::string> out;
  for (const Field& f : table())
    if (f.info.fixed_by_checkpoint) out.push_back(f.info.name);
  return out;
}

}  // namespace stfpm
