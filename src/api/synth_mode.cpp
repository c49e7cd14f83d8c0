// `stfpm synth`: writes the project's synthetic MVTec-layout dataset (synthetic.h).
#include <cstdio>

#include "api/stfpm.h"
#include "data/synthetic.h"

namespace stfpm {

void run_synth(const RunConfig& config) {
  if (config.data_dir.empty()) throw std::invalid_argument("synth needs --data_dir");
  SyntheticOptions options;
  if (!config.category.empty()) options.category = config.category;
  if (config.was_given("size")) options.size = config.size;
  if (config.was_given("seed")) options.seed = config.seed;
  write_synthetic_dataset(config.data_dir, options);
  std::printf("synthetic dataset: %s/%s (%d train, %d good test, %d per defect type, %dx%d)\n",
              config.data_dir.c_str(), options.category.c_str(), options.train_count, options.test_good_count,
              options.per_defect_count, options.size, options.size);
}

}  // namespace stfpm
