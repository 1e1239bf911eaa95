// Host launchers of the CUDA kernels, in plain C++ so that the Python bindings compile
// with the host compiler. Every pointer is a device pointer to a C-contiguous array;
// `stream` is a cudaStream_t (nullptr: the legacy default stream) on which all work is
// queued. Functions that must report bad data (NaN, out-of-range values) wait for the
// stream before returning. CUDA failures throw std::runtime_error; bad data throws
// std::invalid_argument. Results equal those of the CPU kernels in cpp/ exactly (except
// dense_crf_images: to float rounding).
#pragma once
#include <cstdint>
#include <vector>

namespace weaksup {
namespace gpu {

// Number of CUDA devices; 0 when there is no driver or no device.
int device_count();

// mask uint8 (batch, height, width), nonzero = foreground. labels int32 (same shape)
// receives 0 for background and 1..K per image in raster order of each component's
// first pixel (as label_volumes); counts int64 (batch,) receives K. connectivity: 4 or 8.
void label(const uint8_t* mask, int32_t* labels, int64_t* counts, int64_t batch, int64_t height, int64_t width,
           int connectivity, void* stream);

// Statistics of the components `label` found. offsets int64 (batch + 1,) is the
// exclusive cumulative sum of its counts; component k of image b is row
// offsets[b] + k - 1 of area int64 (N,), box int64 (N, 4) as x0, y0, x1, y1 inclusive,
// and centroid float64 (N, 2) as x, y.
void component_stats(const int32_t* labels, int64_t batch, int64_t height, int64_t width, const int64_t* offsets,
                     int64_t* area, int64_t* box, double* centroid, void* stream);

// Data type codes for `dtype` arguments.
enum DType { kFloat32 = 0, kFloat64 = 1 };

// cam_boxes of cpp/cam_boxes.hpp: cams (batch, height, width) of `dtype`,
// normalization as CamNormalization, boxes int64 (batch, 4).
void cam_to_boxes(const void* cams, int dtype, int64_t batch, int64_t height, int64_t width, double threshold,
                  int normalization, int connectivity, int64_t* boxes, void* stream);

// quantize_scoremaps of cpp/wsol.hpp: maps (batch, pixels) of `dtype`, out uint8.
void quantize_scoremaps(const void* maps, int dtype, int64_t batch, int64_t pixels, bool normalize, uint8_t* out,
                        void* stream);

// box_correct of cpp/wsol.hpp. quantized uint8 (batch, height, width), thresholds
// float64 (n_thresholds,), gt_boxes int64 (G, 4), gt_offsets int64 (batch + 1,),
// iou_thresholds float64 (n_iou,) in percent, correct uint8 (batch, n_iou,
// n_thresholds); boxes_v1 int64 (batch, n_thresholds, 4) or nullptr.
void box_correct(const uint8_t* quantized, int64_t batch, int64_t height, int64_t width, const double* thresholds,
                 int64_t n_thresholds, const int64_t* gt_boxes, const int64_t* gt_offsets,
                 const double* iou_thresholds, int64_t n_iou, bool multi_contour, uint8_t* correct,
                 int64_t* boxes_v1, void* stream);

// A pairwise term of dense_crf_images (as ImageCrfParams in cpp/dense_crf.hpp).
struct CrfTerm {
  bool enabled = false;
  std::vector<float> sigma;        // per spatial axis, fastest first (x, y[, z])
  std::vector<float> color_sigma;  // per channel (the bilateral term only)
  int compat_kind = 0;             // 0 Potts, 1 diagonal, 2 matrix (symmetrized)
  std::vector<float> compat;       // 1, labels or labels * labels values
};

// dense_crf_images of cpp/dense_crf.hpp: images float32 (batch, points, channels) with
// spatial shape `spatial` (slowest axis first, points = its product), unary energies
// float32 (batch, points, labels) -> q float32 (same shape). The Gaussian term comes
// before the bilateral one; normalization as Normalization. Results match the CPU's to
// float rounding (not bit for bit) and are the same on every run. Waits for the stream
// once per term (for the lattice size); all images run in the same launches.
void dense_crf_images(const float* images, int64_t batch, const std::vector<int64_t>& spatial, int channels,
                      const float* unary, int labels, const CrfTerm& gaussian, const CrfTerm& bilateral,
                      int normalization, int iterations, float* q, void* stream);

}  // namespace gpu
}  // namespace weaksup
