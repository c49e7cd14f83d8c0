#include "api/reports.h"

#include <algorithm>
#include <cmath>

#include <cstdio>
#include <sstream>

#include "io/hdf5_io.h"
#include "io/report.h"
#include "io/tiff_io.h"

namespace stfpm {

HeatRanges heat_ranges_of(const AnomalyMaps& maps) {
  HeatRanges r;
  const size_t n = size_t(maps.count) * maps.size * maps.size;
  for (int l = 0; l < maps.levels; ++l) r.levels.push_back(shared_heat_range(maps.level(l, 0), n));
  r.combined = shared_heat_range(maps.combined.data(), n);
  return r;
}

double normalized_score(double score, double threshold, double min, double max) {
  if (!(max > min) || std::isnan(threshold) || std::isnan(score)) return NAN;
  return std::clamp((score - threshold) / (max - min) + 0.5, 0.0, 1.0);
}

void save_calibration(const std::string& path, const Evaluation& ev, const std::vector<float>& image_scores,
                      const HeatRanges& ranges, int epoch) {
  H5Writer out(path);
  out.set_attr("image_threshold", ev.image_f1.threshold);
  out.set_attr("pixel_threshold", ev.pixel_f1.threshold);
  if (!image_scores.empty()) {
    const auto [lo, hi] = std::minmax_element(image_scores.begin(), image_scores.end());
    out.set_attr("image_score_min", double(*lo));
    out.set_attr("image_score_max", double(*hi));
  }
  out.set_attr("mask_rule", std::string(mask_rule_name(ev.rule)));
  out.set_attr("epoch", int64_t(epoch));
  std::vector<double> lo, hi;
  for (const HeatRange& h : ranges.levels) lo.push_back(h.lo), hi.push_back(h.hi);
  lo.push_back(ranges.combined.lo);
  hi.push_back(ranges.combined.hi);
  out.write("heat_range_lo", Shape{int64_t(lo.size())}, lo.data());
  out.write("heat_range_hi", Shape{int64_t(hi.size())}, hi.data());
  out.commit();
}

Calibration load_calibration(const std::string& path, int levels) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(path + ": no thresholds; run `stfpm test` first or pass --threshold");
  std::fclose(f);
  const H5Reader in(path);
  Calibration c;
  c.image_threshold = in.attr_double("image_threshold");
  c.pixel_threshold = in.attr_double("pixel_threshold");
  if (in.has_attr("image_score_min") && in.has_attr("image_score_max")) {
    c.image_score_min = in.attr_double("image_score_min");
    c.image_score_max = in.attr_double("image_score_max");
  }
  c.mask_rule = in.attr_string("mask_rule");
  c.epoch = int(in.attr_int("epoch"));
  const std::vector<double> lo = in.read_doubles("heat_range_lo"), hi = in.read_doubles("heat_range_hi");
  if (lo.size() != size_t(levels) + 1 || hi.size() != lo.size())
    throw std::runtime_error(path + ": heatmap ranges for " + std::to_string(int(lo.size()) - 1) +
                             " levels, the model uses " + std::to_string(levels));
  for (int l = 0; l < levels; ++l) c.ranges.levels.push_back(HeatRange{float(lo[size_t(l)]), float(hi[size_t(l)])});
  c.ranges.combined = HeatRange{float(lo.back()), float(hi.back())};
  return c;
}

void write_result_images(const ImageSet& images, const AnomalyMaps& maps, const HeatRanges& ranges,
                         double pixel_threshold, const std::vector<std::string>& paths, const Reporter& report) {
  ResultImageStyle style;
  style.level_ranges = ranges.levels;
  style.combined_range = ranges.combined;
  style.threshold = float(pixel_threshold);
  const size_t plane = images.plane();
  report.update("result images", 0, images.count());
  for (size_t i = 0; i < images.count(); ++i) {
    Image8 rgb(images.size, images.size, 3);
    std::copy_n(images.rgb_image(i), 3 * plane, rgb.data.begin());
    ResultImageInput in;
    in.image = &rgb;
    for (int l = 0; l < maps.levels; ++l) in.level_maps.push_back(maps.level(l, i));
    in.combined = maps.map(i);
    in.mask = images.has_masks() && images.records[i].anomalous ? images.mask(i) : nullptr;
    write_result_image(paths[i], in, style);
    report.update("result images", i + 1, images.count());
  }
  report.finished("result images", images.count());
}

void write_test_reports(const TestReportOptions& options, const ImageSet& images, const AnomalyMaps& maps,
                        const Evaluation& ev, const HeatRanges& ranges, const Reporter& report) {
  const std::string dir = options.results_dir + "/" + options.category;
  const auto [lo, hi] = std::minmax_element(maps.scores.begin(), maps.scores.end());
  const double score_min = lo == maps.scores.end() ? NAN : double(*lo);
  const double score_max = hi == maps.scores.end() ? NAN : double(*hi);
  std::vector<ImageResult> results;
  for (size_t i = 0; i < images.count(); ++i) {
    const ImageRecord& r = images.records[i];
    results.push_back(ImageResult{r.path, r.defect_type, r.anomalous ? 1 : 0, maps.scores[i],
                                  double(maps.scores[i]) >= ev.image_f1.threshold,
                                  float(normalized_score(maps.scores[i], ev.image_f1.threshold, score_min,
                                                         score_max))});
  }
  write_image_results_csv(dir + "/scores.csv", results);

  std::vector<std::vector<std::string>> rows;
  for (size_t k = 0; k < ev.pro.fpr.size(); ++k) {
    std::ostringstream a, b, c;
    a.precision(17);
    b.precision(17);
    c.precision(9);
    a << ev.pro.fpr[k];
    b << ev.pro.pro[k];
    c << ev.pro.threshold[k];
    rows.push_back({a.str(), b.str(), c.str()});
  }
  write_csv(dir + "/pro_curve.csv", {"fpr", "pro", "threshold"}, rows);

  if (options.save_images) {
    std::vector<std::string> paths;
    for (const ImageRecord& r : images.records)
      paths.push_back(result_image_path(options.results_dir, options.category, r.defect_type, r.stem));
    write_result_images(images, maps, ranges, ev.pixel_f1.threshold, paths, report);
  }
  if (options.save_maps) {
    for (size_t i = 0; i < images.count(); ++i) {
      const ImageRecord& r = images.records[i];
      write_anomaly_map_tiff(mvtec_tiff_path(dir + "/maps", options.category, r.defect_type, r.stem), maps.map(i),
                             maps.size, maps.size, r.width, r.height);
      report.update("TIFF maps", i + 1, images.count());
    }
    report.finished("TIFF maps", images.count());
  }
}

}  // namespace stfpm
