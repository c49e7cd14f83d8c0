// report.html: one self-contained page per test run, to look at what the model does. No script and no network:
// the metrics as a table, the ROC curve, the PRO curve and the score histogram as inline SVG drawn here, and every
// test image as a row with its result image (input, level maps, combined map with the ground truth outlined in
// magenta and the predicted region in white) linked by a relative path, so the page works wherever the results
// folder is copied.
//
// Rows are ordered by what needs a look first: false positives and false negatives (at the decision threshold),
// then true positives and true negatives, each by score from the highest down.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace stfpm {

struct HtmlReportRow {
  std::string name;         // "broken_large/000"
  int label = 0;            // 1 anomalous (a defect folder), 0 normal
  float score = 0, normalized = 0;
  bool predicted = false;   // score >= the decision threshold
  std::string image;        // the result image relative to the report ("images/broken_large/000.png"); empty: none
};

struct HtmlCurve {
  std::vector<double> x, y;
};

struct HtmlReport {
  std::string title;                                       // "bottle"
  std::vector<std::pair<std::string, std::string>> facts;  // the metrics table: name, value as text
  std::vector<std::string> notes;                          // lines under the table ("no masks: ...")
  HtmlCurve roc;                                           // image ROC curve (empty: not drawn)
  HtmlCurve pro;                                           // pixel PRO curve (empty without masks)
  double pro_max_fpr = 0.3;                                // the AUPRO integration limit: the plot's x range
  double threshold = 0;                                    // the decision threshold, marked on the histogram
  std::vector<HtmlReportRow> rows;
};

// The page as text. Names and paths are escaped; image paths are percent-encoded.
std::string html_report(const HtmlReport& report);
// Writes html_report(report) to `path` atomically.
void write_html_report(const std::string& path, const HtmlReport& report);

}  // namespace stfpm
