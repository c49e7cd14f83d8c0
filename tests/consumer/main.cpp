#include <cstdio>
#include <stfpm/stfpm.h>  // CMake: find_package(stfpm CONFIG REQUIRED), target_link_libraries(app PRIVATE stfpm::stfpm)

int main(int argc, char** argv) try {
  if (argc != 3) return std::fprintf(stderr, "usage: %s MODEL_FOLDER IMAGE\n", argv[0]), 2;
  stfpm::Detector detector = stfpm::Detector::load(argv[1]);  // a trained model folder, e.g. models/bottle
  stfpm::Prediction p = detector.predict(argv[2]);            // an image file, or an 8-bit buffer (stfpm::Image)
  std::printf("%s\t%.6g\t%s\n", argv[2], p.score, p.anomalous ? "anomalous" : "normal");
} catch (const stfpm::Error& e) {  // every library error: one line naming what is wrong
  return std::fprintf(stderr, "%s\n", e.what()), 1;
}
