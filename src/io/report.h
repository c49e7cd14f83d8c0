// Per-image result tables (CSV) and the paths of the report files. metrics.json is built with Json
// (io/json.h), heatmap images come from heatmap.h, MVTec-style TIFF anomaly maps from tiff_io.h.
//
// Layout under the results folder the user names:
//   <results>/<category>/metrics.json
//   <results>/<category>/scores.csv                          one row per test image
//   <results>/<category>/images/<defect>/<stem>.png          heatmap result images
//   <maps_dir>/<category>/test/<defect>/<stem>.tiff          float anomaly maps (tiff_io.h), as MVTec's script reads
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace stfpm {

// One test image's result.
struct ImageResult {
  std::string path;         // the image file
  std::string defect_type;  // its folder under test/: "good" or the defect type
  int label = 0;            // 0 defect-free, 1 anomalous
  float score = 0.0f;       // image score (maximum of the anomaly map)
  bool predicted = false;   // score >= the image threshold the caller chose
  float normalized = NAN;   // the readable score, 0.5 at the threshold (api/reports.h: normalized_score)
};

// One CSV field (RFC 4180): quoted when it holds a comma, a double quote, CR or LF, with quotes doubled.
std::string csv_field(const std::string& s);
// Shortest text that reads back to the same float ("nan", "inf", "-inf" for the non-finite values, which
// pandas and numpy parse).
std::string csv_float(float v);
// Writes a header line and the rows (each with as many fields as the header), fields quoted as needed, lines
// ending in "\n", atomically. Throws std::invalid_argument for a row of the wrong width, std::runtime_error
// naming the file when it cannot be written.
void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows);
// Columns path,defect_type,label,score,predicted (label and predicted as 0/1), rows in the given order.
void write_image_results_csv(const std::string& path, const std::vector<ImageResult>& results);
// pro_curve.csv: fpr,pro,threshold, one row per point, fpr and pro with 17 significant digits (they round-trip)
// and the threshold, a float, with 9. Formatted straight into the file's text: a curve can have a million points.
void write_pro_curve_csv(const std::string& path, const std::vector<double>& fpr, const std::vector<double>& pro,
                         const std::vector<double>& threshold);

// <results>/<category>/images/<defect>/<stem>.png, and its part under the category folder
std::string result_image_name(const std::string& defect, const std::string& stem);
std::string result_image_path(const std::string& results_dir, const std::string& category,
                              const std::string& defect, const std::string& stem);
// The file name without folder and without its last extension: ".../broken_large/000.png" -> "000".
std::string file_stem(const std::string& path);

}  // namespace stfpm
