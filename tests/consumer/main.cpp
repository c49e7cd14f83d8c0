// The README's example: load a trained model folder, judge one image. Usage: consumer MODEL_FOLDER IMAGE
#include <cstdio>
#include <stfpm/stfpm.h>

int main(int argc, char** argv) try {
  if (argc != 3) return std::fprintf(stderr, "usage: consumer MODEL_FOLDER IMAGE\n"), 2;
  stfpm::Detector detector = stfpm::Detector::load(argv[1]);   // e.g. models/bottle
  stfpm::Prediction p = detector.predict(argv[2]);               // a file, or an stfpm::Image buffer
  std::printf("%s\t%.6g\t%s\n", argv[2], p.score, p.anomalous ? "anomalous" : "normal");
} catch (const stfpm::Error& e) {
  std::fprintf(stderr, "consumer: %s\n", e.what());
  return 1;
}
