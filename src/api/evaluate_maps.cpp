// `stfpm evaluate`: metrics of TIFF maps saved by --save_maps (or by any other method, in MVTec's layout
// <maps>/<category>/test/<defect>/<stem>.tiff) against the ground truth at the original image size, where both
// mask rules agree (MVTec masks are 0/255).
#include <algorithm>

#include <stfpm/stfpm.h>

#include "api/errors.h"
#include "api/runtime.h"
#include "data/dataset.h"
#include "data/image_io.h"
#include "eval/metrics.h"
#include "core/files.h"
#include "io/json.h"
#include "io/tiff_io.h"

namespace stfpm {

EvaluateResult evaluate_maps(const EvaluateConfig& config, const ProgressCallback& progress) try {
  const Reporter report(progress);
  if (config.data_dir.empty() || config.category.empty() || config.maps_dir.empty())
    throw Error("evaluate needs --data_dir, --category and --maps");
  const MaskRule rule = parse_mask_rule(config.mask_rule);
  const std::vector<ImageRecord> records = scan_split(config.data_dir, config.category, Split::test);
  const int w = records.front().width, h = records.front().height;
  const size_t plane = size_t(w) * h;
  const std::string out_dir = config.results_dir + "/" + config.category;
  ensure_writable_dir(out_dir);
  // One map at a time into the evaluator (its sorted runs go to a scratch file in the results folder): maps at
  // the original size are large (bottle's 83 at 900 x 900 are 270 MB).
  PixelEvaluator pixels(h, w, out_dir);
  std::vector<float> scores(records.size());
  std::vector<uint8_t> mask01(plane), labels(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const ImageRecord& r = records[i];
    const std::string path = mvtec_tiff_path(config.maps_dir, config.category, r.defect_type, r.stem);
    const FloatImage map = read_tiff_float(path);
    if (map.width != r.width || map.height != r.height || r.width != w || r.height != h)
      throw Error(path + ": map is " + std::to_string(map.width) + "x" + std::to_string(map.height) +
                  ", its image " + std::to_string(r.width) + "x" + std::to_string(r.height) +
                  (r.width != w || r.height != h ? " (test images of one size are required)" : ""));
    scores[i] = *std::max_element(map.data.begin(), map.data.end());
    labels[i] = r.anomalous ? 1 : 0;
    std::fill(mask01.begin(), mask01.end(), 0);
    if (r.anomalous) {
      const Image8 mask = read_image_gray(r.mask_path);
      binarize_mask(mask01.data(), mask.data.data(), plane, rule);
    }
    pixels.add(map.data.data(), mask01.data());
    report.update("reading maps", i + 1, records.size());
  }
  report.finished("reading maps", records.size());
  const Evaluation ev = evaluate(pixels, scores.data(), labels.data(), rule);
  EvaluateResult result;
  result.pixel_auroc = ev.pixel_auroc;
  result.image_auroc = ev.image_auroc;
  result.pixel_aupro = ev.pixel_aupro;
  result.width = w;
  result.height = h;
  result.mask_rule = mask_rule_name(rule);
  result.metrics_file = out_dir + "/metrics_from_maps.json";
  write_json_file(result.metrics_file, Json{{"category", config.category},
                                            {"maps", config.maps_dir},
                                            {"pixel_auroc", ev.pixel_auroc},
                                            {"image_auroc", ev.image_auroc},
                                            {"pixel_aupro", ev.pixel_aupro},
                                            {"mask_rule", mask_rule_name(rule)},
                                            {"width", w},
                                            {"height", h}});
  return result;
} catch (...) {
  rethrow_as_error();
}

}  // namespace stfpm
