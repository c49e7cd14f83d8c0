#include "io/report.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "core/files.h"

namespace stfpm {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string csv_float(float v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows) {
  std::string text;
  auto line = [&text](const std::vector<std::string>& fields) {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i) text += ',';
      text += csv_field(fields[i]);
    }
    text += '\n';
  };
  line(header);
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != header.size())
      throw std::invalid_argument(path + ": CSV row " + std::to_string(r + 1) + " has " +
                                  std::to_string(rows[r].size()) + " fields, the header " +
                                  std::to_string(header.size()));
    line(rows[r]);
  }
  write_file_atomic(path, text);
}

void write_pro_curve_csv(const std::string& path, const std::vector<double>& fpr, const std::vector<double>& pro,
                         const std::vector<double>& threshold) {
  if (pro.size() != fpr.size() || threshold.size() != fpr.size())
    throw std::invalid_argument(path + ": the PRO curve's columns differ in length");
  std::string text = "fpr,pro,threshold\n";
  text.reserve(text.size() + fpr.size() * 56);
  char row[96];
  for (size_t k = 0; k < fpr.size(); ++k) {
    const int n = std::snprintf(row, sizeof row, "%.17g,%.17g,%.9g\n", fpr[k], pro[k], threshold[k]);
    text.append(row, size_t(n));
  }
  write_file_atomic(path, text);
}

void write_image_results_csv(const std::string& path, const std::vector<ImageResult>& results) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(results.size());
  for (const ImageResult& r : results)
    rows.push_back({r.path, r.defect_type, std::to_string(r.label), csv_float(r.score), r.predicted ? "1" : "0",
                    csv_float(r.normalized)});
  write_csv(path, {"path", "defect_type", "label", "score", "predicted", "normalized_score"}, rows);
}

std::string result_image_name(const std::string& defect, const std::string& stem) {
  return "images/" + defect + "/" + stem + ".png";
}

std::string result_image_path(const std::string& results_dir, const std::string& category,
                              const std::string& defect, const std::string& stem) {
  return results_dir + "/" + category + "/" + result_image_name(defect, stem);
}

std::string file_stem(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = name.find_last_of('.');
  if (dot != std::string::npos && dot > 0) name.resize(dot);
  return name;
}

}  // namespace stfpm
