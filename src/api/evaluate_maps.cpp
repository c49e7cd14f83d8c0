// `stfpm evaluate`: metrics of TIFF maps saved by --save_maps (or by any other method, in MVTec's layout
// <maps>/<category>/test/<defect>/<stem>.tiff) against the ground truth at the original image size, where both
// mask rules agree (MVTec masks are 0/255).
#include <algorithm>
#include <cstdio>

#include "data/dataset.h"
#include "data/image_io.h"
#include "io/json_writer.h"
#include "eval/metrics.h"
#include "cli/progress.h"
#include "api/stfpm.h"
#include "io/tiff_io.h"

namespace stfpm {

void run_evaluate_maps(const RunConfig& config) {
  if (config.data_dir.empty() || config.category.empty() || config.maps_dir.empty())
    throw std::invalid_argument("evaluate needs --data_dir, --category and --maps");
  const MaskRule rule = parse_mask_rule(config.mask_rule);
  const std::vector<ImageRecord> records = scan_split(config.data_dir, config.category, Split::test);
  const int w = records.front().width, h = records.front().height;
  const size_t plane = size_t(w) * h;
  std::vector<float> maps(records.size() * plane), scores(records.size());
  std::vector<uint8_t> masks(records.size() * plane, 0), labels(records.size());
  Progress progress("reading maps", records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const ImageRecord& r = records[i];
    const std::string path = mvtec_tiff_path(config.maps_dir, config.category, r.defect_type, r.stem);
    const FloatImage map = read_tiff_float(path);
    if (map.width != r.width || map.height != r.height || r.width != w || r.height != h)
      throw std::runtime_error(path + ": map is " + std::to_string(map.width) + "x" + std::to_string(map.height) +
                               ", its image " + std::to_string(r.width) + "x" + std::to_string(r.height) +
                               (r.width != w || r.height != h ? " (test images of one size are required)" : ""));
    std::copy(map.data.begin(), map.data.end(), maps.begin() + long(i * plane));
    scores[i] = *std::max_element(map.data.begin(), map.data.end());
    labels[i] = r.anomalous ? 1 : 0;
    if (r.anomalous) {
      const Image8 mask = read_image_gray(r.mask_path);
      binarize_mask(masks.data() + i * plane, mask.data.data(), plane, rule);
    }
    progress.update(i + 1);
  }
  progress.finish();
  const Evaluation ev = evaluate(maps.data(), masks.data(), int(records.size()), h, w, scores.data(), labels.data(), rule);
  std::printf("%s (maps %s, %dx%d): pixel ROC-AUC %.4f  image ROC-AUC %.4f  pixel AUPRO %.4f  (mask rule %s)\n",
              config.category.c_str(), config.maps_dir.c_str(), w, h, ev.pixel_auroc, ev.image_auroc,
              ev.pixel_aupro, mask_rule_name(rule));
  const std::string out = config.category_results_dir() + "/metrics_from_maps.json";
  create_parent_dirs(out);
  write_json_file(out, Json::object()
                           .set("category", config.category)
                           .set("maps", config.maps_dir)
                           .set("pixel_auroc", ev.pixel_auroc)
                           .set("image_auroc", ev.image_auroc)
                           .set("pixel_aupro", ev.pixel_aupro)
                           .set("mask_rule", mask_rule_name(rule))
                           .set("width", w)
                           .set("height", h));
  std::printf("metrics: %s\n", out.c_str());
}

}  // namespace stfpm
