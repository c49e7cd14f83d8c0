#include "io/html_report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "core/files.h"

namespace stfpm {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// A relative path as a URL: every byte but the unreserved ones and '/' percent-encoded (spaces, '#', '?', UTF-8).
std::string url_path(const std::string& path) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string num(double v, const char* format = "%.4g") {
  if (std::isnan(v)) return "n/a";
  char buf[48];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// A plot area of 360 x 280 px with margins for the axes; maps data coordinates into it.
struct Frame {
  double x0, x1, y0, y1;  // data ranges
  static constexpr double left = 48, right = 12, top = 40, bottom = 40, width = 360, height = 280;
  double px(double x) const { return left + (x - x0) / (x1 - x0) * (width - left - right); }
  double py(double y) const { return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom); }
};

std::string svg_open(const std::string& id, const std::string& title) {
  return "<svg id=\"" + id + "\" class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"360\" height=\"280\" "
         "viewBox=\"0 0 360 280\" role=\"img\" aria-label=\"" + escape(title) + "\">\n<text x=\"180\" y=\"16\" "
         "class=\"title\">" + escape(title) + "</text>\n";
}

// Axes with 5 ticks on each, labelled.
std::string axes(const Frame& f, const std::string& xlabel, const std::string& ylabel) {
  std::string s;
  s += "<rect x=\"" + num(f.px(f.x0)) + "\" y=\"" + num(f.py(f.y1)) + "\" width=\"" + num(f.px(f.x1) - f.px(f.x0)) +
       "\" height=\"" + num(f.py(f.y0) - f.py(f.y1)) + "\" class=\"frame\"/>\n";
  for (int k = 0; k <= 4; ++k) {
    const double x = f.x0 + (f.x1 - f.x0) * k / 4, y = f.y0 + (f.y1 - f.y0) * k / 4;
    s += "<text x=\"" + num(f.px(x)) + "\" y=\"" + num(f.py(f.y0) + 14) + "\" class=\"tick\">" + num(x, "%.3g") +
         "</text>\n";
    s += "<text x=\"" + num(f.px(f.x0) - 4) + "\" y=\"" + num(f.py(y) + 4) + "\" class=\"tick ytick\">" +
         num(y, "%.3g") + "</text>\n";
  }
  s += "<text x=\"" + num((f.px(f.x0) + f.px(f.x1)) / 2) + "\" y=\"274\" class=\"label\">" + escape(xlabel) +
       "</text>\n";
  s += "<text x=\"12\" y=\"" + num((f.py(f.y0) + f.py(f.y1)) / 2) + "\" class=\"label\" transform=\"rotate(-90 12 " +
       num((f.py(f.y0) + f.py(f.y1)) / 2) + ")\">" + escape(ylabel) + "</text>\n";
  return s;
}

std::string polyline(const Frame& f, const HtmlCurve& c, double x_max, const std::string& cls) {
  std::string points;
  for (size_t i = 0; i < c.x.size(); ++i) {
    if (c.x[i] > x_max) {  // the curve up to x_max: interpolate the crossing and stop
      if (i > 0 && c.x[i] > c.x[i - 1]) {
        const double t = (x_max - c.x[i - 1]) / (c.x[i] - c.x[i - 1]);
        points += num(f.px(x_max)) + "," + num(f.py(c.y[i - 1] + t * (c.y[i] - c.y[i - 1]))) + " ";
      }
      break;
    }
    points += num(f.px(c.x[i])) + "," + num(f.py(c.y[i])) + " ";
  }
  return "<polyline class=\"" + cls + "\" points=\"" + points + "\"/>\n";
}

std::string curve_plot(const std::string& id, const std::string& title, const HtmlCurve& c, double x_max,
                       const std::string& xlabel, const std::string& ylabel, bool diagonal) {
  const Frame f{0, x_max, 0, 1};
  std::string s = svg_open(id, title) + axes(f, xlabel, ylabel);
  if (diagonal)
    s += "<line x1=\"" + num(f.px(0)) + "\" y1=\"" + num(f.py(0)) + "\" x2=\"" + num(f.px(1)) + "\" y2=\"" +
         num(f.py(1)) + "\" class=\"chance\"/>\n";
  return s + polyline(f, c, x_max, "curve") + "</svg>\n";
}

// Counts of normal and defective image scores in 24 equal bins over the scores' range, and the threshold.
std::string histogram(const std::vector<HtmlReportRow>& rows, double threshold) {
  constexpr int kBins = 24;
  double lo = INFINITY, hi = -INFINITY;
  for (const HtmlReportRow& r : rows)
    if (std::isfinite(r.score)) lo = std::min(lo, double(r.score)), hi = std::max(hi, double(r.score));
  if (std::isfinite(threshold)) lo = std::min(lo, threshold), hi = std::max(hi, threshold);
  if (!std::isfinite(lo)) lo = 0, hi = 1;                // no finite score
  if (!(hi > lo)) hi = lo + std::max(1.0, std::abs(lo));  // one score: a range that is not lost to rounding
  std::vector<int> normal(kBins, 0), defective(kBins, 0);
  for (const HtmlReportRow& r : rows) {
    if (!std::isfinite(r.score)) continue;
    const int b = std::min(kBins - 1, int((r.score - lo) / (hi - lo) * kBins));
    (r.label ? defective : normal)[size_t(b)] += 1;
  }
  int top = 1;
  for (int b = 0; b < kBins; ++b) top = std::max({top, normal[size_t(b)], defective[size_t(b)]});
  top = (top + 3) / 4 * 4;  // a multiple of 4, so the 5 ticks are whole counts
  const Frame f{lo, hi, 0, double(top)};
  std::string s = svg_open("histogram", "image scores: normal vs defective") + axes(f, "image score", "images");
  const double bar = (f.px(hi) - f.px(lo)) / kBins;
  for (int b = 0; b < kBins; ++b) {
    const double x = f.px(lo) + b * bar;
    for (int series = 0; series < 2; ++series) {
      const int count = (series ? defective : normal)[size_t(b)];
      if (!count) continue;
      s += "<rect class=\"" + std::string(series ? "defective" : "normal") + "\" x=\"" +
           num(x + series * bar / 2) + "\" y=\"" + num(f.py(count)) + "\" width=\"" + num(bar / 2) +
           "\" height=\"" + num(f.py(0) - f.py(count)) + "\"/>\n";
    }
  }
  if (std::isfinite(threshold))
    s += "<line class=\"threshold\" x1=\"" + num(f.px(threshold)) + "\" y1=\"" + num(f.py(0)) + "\" x2=\"" +
         num(f.px(threshold)) + "\" y2=\"" + num(f.py(top)) + "\"/>\n";
  // The legend, in the margin above the bars.
  s += "<rect class=\"normal\" x=\"60\" y=\"24\" width=\"10\" height=\"10\"/><text x=\"74\" y=\"33\" "
       "class=\"legend\">normal</text>\n<rect class=\"defective\" x=\"130\" y=\"24\" width=\"10\" height=\"10\"/>"
       "<text x=\"144\" y=\"33\" class=\"legend\">defective</text>\n<line class=\"threshold\" x1=\"212\" y1=\"29\" "
       "x2=\"226\" y2=\"29\"/><text x=\"230\" y=\"33\" class=\"legend\">threshold</text>\n";
  return s + "</svg>\n";
}

// "FP", "FN", "TP", "TN" and the order they are shown in.
const char* outcome(const HtmlReportRow& r) {
  return r.predicted ? (r.label ? "TP" : "FP") : (r.label ? "FN" : "TN");
}
int outcome_rank(const HtmlReportRow& r) {
  return r.predicted == bool(r.label) ? (r.label ? 2 : 3) : (r.label ? 1 : 0);  // FP, FN, TP, TN
}

const char* kStyle = R"(
body { font-family: sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
table.facts td { padding: 2px 14px 2px 0; } table.facts td:first-child { color: #555; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
svg.plot { background: #fff; border: 1px solid #ddd; }
svg .title { font-size: 13px; text-anchor: middle; font-weight: bold; }
svg .tick { font-size: 10px; text-anchor: middle; fill: #444; } svg .ytick { text-anchor: end; }
svg .label { font-size: 11px; text-anchor: middle; fill: #222; } svg .legend { font-size: 10px; }
svg .frame { fill: none; stroke: #999; } svg .chance { stroke: #bbb; stroke-dasharray: 4 3; }
svg .curve { fill: none; stroke: #1f5fbf; stroke-width: 2; }
svg .normal { fill: #3b7dd8; opacity: 0.8; } svg .defective { fill: #d83b3b; opacity: 0.8; }
svg .threshold { stroke: #111; stroke-width: 1.5; stroke-dasharray: 5 3; }
table.images { border-collapse: collapse; } table.images th, table.images td { padding: 4px 8px; text-align: left;
  border-bottom: 1px solid #eee; vertical-align: middle; }
td.FP, td.FN { color: #fff; background: #c0392b; font-weight: bold; }
td.TP, td.TN { color: #fff; background: #2e8b57; }
img.result { height: 96px; display: block; }
.note { color: #555; }
)";

}  // namespace

std::string html_report(const HtmlReport& report) {
  std::vector<HtmlReportRow> rows = report.rows;
  std::stable_sort(rows.begin(), rows.end(), [](const HtmlReportRow& a, const HtmlReportRow& b) {
    if (outcome_rank(a) != outcome_rank(b)) return outcome_rank(a) < outcome_rank(b);
    return a.score > b.score;
  });
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>stfpm report: " +
                  escape(report.title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  h += "<h1>stfpm report: " + escape(report.title) + "</h1>\n<table class=\"facts\" id=\"metrics\">\n";
  for (const auto& [name, value] : report.facts)
    h += "<tr><td>" + escape(name) + "</td><td>" + escape(value) + "</td></tr>\n";
  h += "</table>\n";
  for (const std::string& n : report.notes) h += "<p class=\"note\">" + escape(n) + "</p>\n";

  h += "<div class=\"plots\">\n";
  if (!report.roc.x.empty())
    h += curve_plot("roc", "image ROC curve", report.roc, 1.0, "false positive rate", "true positive rate", true);
  if (!report.pro.x.empty())
    h += curve_plot("pro", "pixel PRO curve (AUPRO range)", report.pro, report.pro_max_fpr,
                    "false positive rate (pixels)", "per-region overlap", false);
  h += histogram(report.rows, report.threshold);
  h += "</div>\n";

  size_t wrong = 0;
  for (const HtmlReportRow& r : rows) wrong += r.predicted != bool(r.label);
  h += "<h2>Test images (" + std::to_string(rows.size()) + "; " + std::to_string(wrong) +
       " misjudged at threshold " + num(report.threshold, "%.6g") + ", shown first)</h2>\n";
  h += "<table class=\"images\" id=\"images\">\n<tr><th>#</th><th>image</th><th>truth</th><th>score</th>"
       "<th>normalized</th><th>decision</th><th>input | level maps | combined (truth magenta, predicted white)</th>"
       "</tr>\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const HtmlReportRow& r = rows[i];
    h += "<tr class=\"row\"><td>" + std::to_string(i + 1) + "</td><td>" + escape(r.name) + "</td><td>" +
         (r.label ? "defective" : "normal") + "</td><td>" + num(r.score, "%.5g") + "</td><td>" +
         num(r.normalized, "%.3f") + "</td><td class=\"" + outcome(r) + "\">" + outcome(r) + " (" +
         (r.predicted ? "anomalous" : "normal") + ")</td><td>";
    if (!r.image.empty())
      h += "<img class=\"result\" loading=\"lazy\" alt=\"" + escape(r.name) + "\" src=\"" + url_path(r.image) + "\">";
    h += "</td></tr>\n";
  }
  h += "</table>\n</body>\n</html>\n";
  return h;
}

void write_html_report(const std::string& path, const HtmlReport& report) {
  write_file_atomic(path, html_report(report), "report");
}

}  // namespace stfpm
