// report.html of a test run: the facts of metrics.json that a reader wants first, the curves, and the rows.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "api/reports.h"
#include "io/html_report.h"
#include "io/report.h"

namespace stfpm {
namespace {

std::string text(double v, const char* format = "%.4f") {
  if (std::isnan(v)) return "n/a";
  char buf[48];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

void write_html_test_report(const TestReportOptions& options, const std::vector<ImageRecord>& records,
                            const std::vector<float>& scores, const Evaluation& ev, const TestReportSummary& summary) {
  HtmlReport r;
  r.title = summary.category;
  const bool with_masks = !std::isnan(ev.pixel_auroc) || !ev.pro.fpr.empty();
  r.facts = {{"image ROC-AUC", text(ev.image_auroc)},
             {"pixel ROC-AUC", text(ev.pixel_auroc)},
             {"pixel AUPRO (FPR up to 0.3)", text(ev.pixel_aupro)},
             {"test images", std::to_string(ev.n_images) + " (" + std::to_string(ev.n_anomalous_images) +
                                 " defective)"},
             {"decision threshold", text(summary.image_threshold, "%.6g") + "; from " + summary.threshold_source},
             {"F1-optimal image threshold (fitted on the test set)",
              text(ev.image_f1.threshold, "%.6g") + " (F1 " + text(ev.image_f1.f1, "%.3f") + ")"},
             {"F1-optimal pixel threshold (fitted on the test set)",
              text(ev.pixel_f1.threshold, "%.6g") + " (F1 " + text(ev.pixel_f1.f1, "%.3f") + ")"},
             {"mask rule", mask_rule_name(ev.rule)},
             {"epochs", std::to_string(summary.epochs)},
             {"device", summary.device},
             {"checkpoint", summary.checkpoint}};
  if (!with_masks) r.notes.push_back("No masks: only image-level metrics (pixel ROC-AUC and AUPRO need --mask_dir).");
  if (!options.save_images) r.notes.push_back("Result images were not written (--no_images).");

  std::vector<uint8_t> labels(records.size());
  for (size_t i = 0; i < records.size(); ++i) labels[i] = records[i].anomalous ? 1 : 0;
  const RocCurve roc = roc_curve(scores.data(), labels.data(), labels.size());
  r.roc = HtmlCurve{roc.fpr, roc.tpr};
  r.pro = HtmlCurve{ev.pro.fpr, ev.pro.pro};
  r.threshold = summary.image_threshold;

  const auto [lo, hi] = std::minmax_element(scores.begin(), scores.end());
  for (size_t i = 0; i < records.size(); ++i) {
    const ImageRecord& rec = records[i];
    HtmlReportRow row;
    row.name = rec.defect_type + "/" + rec.stem;
    row.label = labels[i];
    row.score = scores[i];
    row.normalized = float(normalized_score(row.score, summary.image_threshold, *lo, *hi));
    row.predicted = double(row.score) >= summary.image_threshold;
    if (options.save_images) row.image = result_image_name(rec.defect_type, rec.stem);
    r.rows.push_back(std::move(row));
  }
  write_html_report(options.results_dir + "/" + options.category + "/report.html", r);
}

}  // namespace stfpm
