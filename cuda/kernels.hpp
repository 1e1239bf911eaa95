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

// region_growing of cpp/region_growing.hpp: probs (batch, classes, height, width) of
// `dtype`, seeds uint8 (same shape, 0 / 1), present uint8 (batch, classes) or nullptr ->
// out uint8 (same shape). Only queues work on the stream; equals the CPU bit for bit.
void region_growing(const void* probs, int dtype, const uint8_t* seeds, const uint8_t* present, int64_t batch,
                    int64_t classes, int64_t height, int64_t width, double fg_threshold, double bg_threshold,
                    uint8_t* out, void* stream);

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

// The lattices of one dense_crf_images term over a batch of images (positions / sigma,
// then, when color_sigma is not empty, channels / colour sigma), kept for filtering any
// values: cpp/lattice_filter.hpp's KernelBatch on the GPU (to float rounding; the weights
// and the normalization are float32, as the float32 CPU kernel's). Buffers live on
// `stream`, and every filter() must run on it too.
class LatticeBatch {
 public:
  LatticeBatch(const float* images, int64_t batch, const std::vector<int64_t>& spatial, int channels,
               const std::vector<float>& sigma, const std::vector<float>& color_sigma, int normalization,
               void* stream);
  ~LatticeBatch();
  LatticeBatch(const LatticeBatch&) = delete;
  LatticeBatch& operator=(const LatticeBatch&) = delete;

  // out (batch, points, value_channels) = K in, image by image, or K^T in (the blur's
  // axes in reverse order, splat and slice weights swapped). T = float or double.
  void filter(const float* in, float* out, int value_channels, bool transpose) const;
  void filter(const double* in, double* out, int value_channels, bool transpose) const;
  int64_t batch() const;
  int64_t points() const;

 private:
  struct Impl;
  Impl* impl_;
};

// ---- label model (cpp/label_model.hpp, on the dense matrix: every row counts once) ----
//
// labels (n, m) of T = int8_t, int16_t, int32_t or int64_t, -1 = abstain, else a class in
// [0, k); `labels` points at element (0, 0) and row_stride / col_stride are in elements
// (any values: the matrix need not be contiguous). A vote of source j for class v has the
// code j * (k + 1) + v + 1; weights float64 (m * (k + 1), k) row-major, bias float64 (k,).
// Row i scores s_i[y] = bias[y] + sum over its votes of weights[code * k + y], q_i =
// softmax(s_i), lse_i = logsumexp(s_i), as score_pattern in cpp/label_model.cpp. The
// kernels only queue work on `stream` (none waits for it). Sums run over a fixed split
// of the rows that depends on n and the table size only, added in a fixed order: the same
// bits on every run and device; they match the CPU's to rounding (the order differs).
// Labels outside [-1, k) count as abstentions here: run label_model_check first.

// out3 int64 (3,) = (row, column, value) of the first label outside [-1, k) in
// row-major order, or (-1, 0, 0) when there is none.
template <class T>
void label_model_check(const T* labels, int64_t n, int64_t m, int64_t row_stride, int64_t col_stride, int64_t k,
                       int64_t* out3, void* stream);

// em_statistics: vote_class float64 (m * (k + 1) * k) [code * k + y] = sum of q_i[y] over
// the rows voting `code` (0 for abstain codes), class_total float64 (k) = sum_i q_i,
// log_likelihood float64 (1) = sum_i lse_i.
template <class T>
void label_model_statistics(const T* labels, int64_t n, int64_t m, int64_t row_stride, int64_t col_stride, int64_t k,
                            const double* weights, const double* bias, double* vote_class, double* class_total,
                            double* log_likelihood, void* stream);

// majority_statistics: the same vote_class and class_total for the majority-vote
// posteriors (each class's share of a row's votes; empty float64 (k) for rows without
// votes), where EM starts.
template <class T>
void label_model_majority_statistics(const T* labels, int64_t n, int64_t m, int64_t row_stride, int64_t col_stride,
                                     int64_t k, const double* empty, double* vote_class, double* class_total,
                                     void* stream);

// class_marginal: marginal float64 (k) = sum_i q_i, hessian float64 (k, k) = sum_i
// (diag(q_i) - q_i q_i^T), log_likelihood float64 (1) = sum_i lse_i.
template <class T>
void label_model_marginal(const T* labels, int64_t n, int64_t m, int64_t row_stride, int64_t col_stride, int64_t k,
                          const double* weights, const double* bias, double* marginal, double* hessian,
                          double* log_likelihood, void* stream);

// pattern_scores per row: out float64 (n, k) = s_i, or q_i with softmax.
template <class T>
void label_model_scores(const T* labels, int64_t n, int64_t m, int64_t row_stride, int64_t col_stride, int64_t k,
                        const double* weights, const double* bias, bool softmax, double* out, void* stream);

}  // namespace gpu
}  // namespace weaksup
