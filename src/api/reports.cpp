#include "api/reports.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "io/hdf5_io.h"
#include "io/report.h"
#include "io/tiff_io.h"

namespace stfpm {

namespace {

void write_ranges(H5Writer& out, const HeatRanges& ranges) {
  std::vector<double> lo, hi;
  for (const HeatRange& h : ranges.levels) lo.push_back(h.lo), hi.push_back(h.hi);
  lo.push_back(ranges.combined.lo);
  hi.push_back(ranges.combined.hi);
  out.write("heat_range_lo", Shape{int64_t(lo.size())}, lo.data());
  out.write("heat_range_hi", Shape{int64_t(hi.size())}, hi.data());
}

HeatRanges read_ranges(const H5Reader& in, const std::string& path, int levels) {
  const std::vector<double> lo = in.read_doubles("heat_range_lo"), hi = in.read_doubles("heat_range_hi");
  if (lo.size() != size_t(levels) + 1 || hi.size() != lo.size())
    throw std::runtime_error(path + ": heatmap ranges for " + std::to_string(int(lo.size()) - 1) +
                             " levels, the model uses " + std::to_string(levels));
  HeatRanges r;
  for (int l = 0; l < levels; ++l) r.levels.push_back(HeatRange{float(lo[size_t(l)]), float(hi[size_t(l)])});
  r.combined = HeatRange{float(lo.back()), float(hi.back())};
  return r;
}

bool is_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f) std::fclose(f);
  return f != nullptr;
}

}  // namespace

HeatRanges heat_ranges_of(const AnomalyMaps& maps) {
  HeatRanges r;
  const size_t n = size_t(maps.count) * maps.size * maps.size;
  for (int l = 0; l < maps.levels; ++l) r.levels.push_back(shared_heat_range(maps.level(l, 0), n));
  r.combined = shared_heat_range(maps.combined.data(), n);
  return r;
}

HeatRanges heat_ranges_of(const MapSpill& spill) {
  auto range = [&](int level) {
    return shared_heat_range_of([&](const std::function<void(const float*, size_t)>& visit) {
      spill.for_each_map(level, visit);
    });
  };
  HeatRanges r;
  for (int l = 0; l < spill.levels(); ++l) r.levels.push_back(range(l));
  r.combined = range(-1);
  return r;
}

double normalized_score(double score, double threshold, double min, double max) {
  if (!(max > min) || std::isnan(threshold) || std::isnan(score)) return NAN;
  return std::clamp((score - threshold) / (max - min) + 0.5, 0.0, 1.0);
}

HeatRange normalized_heat_range(double threshold, double min, double max, const HeatRange& fallback) {
  if (!(max > min) || std::isnan(threshold)) return fallback;
  return HeatRange{float(threshold - (max - min) / 2), float(threshold + (max - min) / 2)};
}

void save_calibration(const std::string& path, const Evaluation& ev, const std::vector<float>& image_scores,
                      const HeatRanges& ranges, int epoch, long steps) {
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
  out.set_attr("steps", int64_t(steps));
  write_ranges(out, ranges);
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
  if (in.has_attr("steps")) c.steps = long(in.attr_int("steps"));  // older files: unknown
  c.ranges = read_ranges(in, path, levels);
  return c;
}

std::string ValidationCalibration::describe() const {
  return rule + " of " + std::to_string(images) + " held-out normal image" + (images == 1 ? "" : "s");
}

void save_validation(const std::string& path, const ValidationCalibration& v) {
  H5Writer out(path);
  out.set_attr("threshold", v.threshold);
  out.set_attr("rule", v.rule);
  out.set_attr("images", int64_t(v.images));
  out.set_attr("image_score_min", v.score_min);
  out.set_attr("image_score_max", v.score_max);
  out.set_attr("steps", int64_t(v.steps));
  write_ranges(out, v.ranges);
  out.commit();
}

ValidationCalibration load_validation(const std::string& path, int levels, long steps) {
  ValidationCalibration v;
  if (!is_file(path)) return v;
  const H5Reader in(path);
  if (in.attr_int("steps") != steps) return v;  // made for other weights
  v.steps = steps;
  v.threshold = in.attr_double("threshold");
  v.rule = in.attr_string("rule");
  v.images = int(in.attr_int("images"));
  v.score_min = in.attr_double("image_score_min");
  v.score_max = in.attr_double("image_score_max");
  v.ranges = read_ranges(in, path, levels);
  return v;
}

Calibration load_model_calibration(const std::string& model_folder, int levels, long steps, bool required) {
  const std::string tested = model_folder + "/thresholds.h5", validated = model_folder + "/validation.h5";
  const ValidationCalibration v = load_validation(validated, levels, steps);
  Calibration c;
  std::string stale;  // files made for other weights are not applied
  if (is_file(tested)) {
    c = load_calibration(tested, levels);
    c.source = "test set, F1-optimal";
    if (c.steps >= 0 && c.steps != steps) {
      c = Calibration{};
      stale = tested;
    }
  }
  if (std::isnan(v.threshold) && is_file(validated)) stale += (stale.empty() ? "" : " and ") + validated;
  if (std::isnan(v.threshold) && std::isnan(c.image_threshold) && required)
    throw Error(model_folder + ": no thresholds for these weights" +
                (stale.empty() ? std::string() : " (" + stale + " came from other weights)") +
                "; run `stfpm test`, train with --val_split, or pass --threshold");
  if (std::isnan(v.threshold)) return c;
  c.image_threshold = c.pixel_threshold = v.threshold;
  c.source = "validation: " + v.describe();
  if (std::isnan(c.image_score_min) || std::isnan(c.image_score_max)) {
    c.image_score_min = v.score_min;
    c.image_score_max = v.score_max;
  }
  if (c.ranges.levels.empty()) c.ranges = v.ranges;
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

void write_test_reports(const TestReportOptions& options, const MapSpill& spill, const Evaluation& ev,
                        double image_threshold, double pixel_threshold, const HeatRanges& ranges,
                        const Reporter& report) {
  const std::string dir = options.results_dir + "/" + options.category;
  const std::vector<ImageRecord>& records = spill.records();
  const std::vector<float>& scores = spill.scores();
  const auto [lo, hi] = std::minmax_element(scores.begin(), scores.end());
  const double score_min = lo == scores.end() ? NAN : double(*lo);
  const double score_max = hi == scores.end() ? NAN : double(*hi);
  std::vector<ImageResult> results;
  for (size_t i = 0; i < records.size(); ++i) {
    const ImageRecord& r = records[i];
    results.push_back(ImageResult{r.path, r.defect_type, r.anomalous ? 1 : 0, scores[i],
                                  double(scores[i]) >= image_threshold,
                                  float(normalized_score(scores[i], image_threshold, score_min, score_max))});
  }
  write_image_results_csv(dir + "/scores.csv", results);
  write_pro_curve_csv(dir + "/pro_curve.csv", ev.pro.fpr, ev.pro.pro, ev.pro.threshold);

  if (!options.save_images && !options.save_maps) return;
  // The images come back from the spill a few at a time: memory stays bounded however many there are.
  const std::string task = options.save_images ? "result images" : "TIFF maps";
  const Reporter quiet(nullptr);
  constexpr size_t kChunk = 8;
  report.update(task, 0, records.size());
  for (size_t first = 0; first < records.size(); first += kChunk) {
    ImageSet images;
    AnomalyMaps maps;
    spill.read(first, std::min(kChunk, records.size() - first), images, maps);
    if (options.save_images) {
      std::vector<std::string> paths;
      for (const ImageRecord& r : images.records)
        paths.push_back(result_image_path(options.results_dir, options.category, r.defect_type, r.stem));
      write_result_images(images, maps, ranges, pixel_threshold, paths, quiet);
    }
    if (options.save_maps) {
      for (size_t i = 0; i < images.count(); ++i) {
        const ImageRecord& r = images.records[i];
        write_anomaly_map_tiff(mvtec_tiff_path(dir + "/maps", options.category, r.defect_type, r.stem),
                               maps.map(i), maps.size, maps.size, r.width, r.height);
      }
    }
    report.update(task, first + images.count(), records.size());
  }
  report.finished(task, records.size());
}

}  // namespace stfpm
