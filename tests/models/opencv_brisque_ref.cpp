// Reference scorer for the BRISQUE parity test: OpenCV's own cv::quality::QualityBRISQUE.
// Usage: opencv_brisque_ref MODEL.yml RANGE.yml IMAGE...
// Prints one line per image: path, score (clamped to [0,100] by OpenCV), then the 36 features.

#include <cstdio>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/quality/qualitybrisque.hpp>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL.yml RANGE.yml IMAGE...\n", argv[0]);
    return 1;
  }
  auto model = cv::quality::QualityBRISQUE::create(argv[1], argv[2]);
  for (int i = 3; i < argc; ++i) {
    const cv::Mat img = cv::imread(argv[i], cv::IMREAD_COLOR);
    if (img.empty()) {
      std::fprintf(stderr, "cannot read %s\n", argv[i]);
      return 2;
    }
    const double score = model->compute(img)[0];
    cv::Mat features;
    cv::quality::QualityBRISQUE::computeFeatures(img, features);
    std::printf("%s\t%.9g", argv[i], score);
    for (int j = 0; j < features.cols; ++j) std::printf("\t%.9g", double(features.at<float>(0, j)));
    std::printf("\n");
  }
  return 0;
}
