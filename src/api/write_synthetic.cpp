// `stfpm synth`: the project's synthetic MVTec-layout dataset (data/synthetic.h).
#include <stfpm/stfpm.h>

#include "api/errors.h"
#include "data/synthetic.h"

namespace stfpm {

SyntheticSummary write_synthetic(const SyntheticConfig& config) try {
  if (config.data_dir.empty()) throw Error("synth needs --data_dir");
  SyntheticOptions options;
  if (!config.category.empty()) options.category = config.category;
  options.size = config.size;
  options.seed = config.seed;
  write_synthetic_dataset(config.data_dir, options);
  SyntheticSummary s;
  s.train = options.train_count;
  s.test_good = options.test_good_count;
  s.per_defect = options.per_defect_count;
  s.defect_types = int(options.defect_types.size());
  s.size = options.size;
  s.folder = config.data_dir + "/" + options.category;
  return s;
} catch (...) {
  rethrow_as_error();
}

}  // namespace stfpm
