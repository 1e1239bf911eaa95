// Mean-field inference in a fully connected CRF with Gaussian pairwise terms
// (Krähenbühl & Koltun 2011), computed as densecrf (and so pydensecrf) computes it.
// Arrays are row-major; per-point label arrays are (n, labels).
#pragma once

#include <cstdint>
#include <vector>

#include "permutohedral.hpp"

namespace weaksup {

// densecrf's NormalizationType, same values.
enum class Normalization : int { none = 0, before = 1, after = 2, symmetric = 3 };

// A pairwise term's label compatibility mu, applied to the filtered marginals F:
// Potts weight w (-w F), a diagonal (w_l F_l) or a matrix, symmetrized ((W + W^T) / 2 F).
struct Compatibility {
  enum Kind : int { potts = 0, diagonal = 1, matrix = 2 };
  Kind kind = potts;
  std::vector<float> w;  // 1, labels or labels * labels values

  static Compatibility make(int kind, const float* values, int labels);
};

// The Gaussian kernel of one pairwise term: its lattice (built once) and normalization.
class PairwiseKernel {
 public:
  // features: (n, d). Normalizations as densecrf: symmetric scales by 1 / sqrt(K 1 + 1e-20)
  // before and after filtering, before / after by 1 / (K 1 + 1e-20), none not at all.
  PairwiseKernel(const float* features, int64_t n, int d, Normalization normalization, int threads);

  // out = the normalized kernel applied to in, both (n, padded(channels)) (simd.hpp);
  // they may be the same array. `scratch` is resized as needed (callers reuse it).
  void filter(const float* in, float* out, int channels, int threads, std::vector<float>& scratch) const;

  // The per-point normalization factors before and after filtering (null: none), for
  // callers that run the lattice phases themselves (mean-field).
  const float* splat_scale() const { return before_ ? norm_.data() : nullptr; }
  const float* slice_scale() const { return after_ ? norm_.data() : nullptr; }

  int64_t points() const { return lattice_.points(); }
  const Lattice& lattice() const { return lattice_; }

 private:
  Lattice lattice_;
  bool before_, after_;
  std::vector<float> norm_;  // per point: 1 / sqrt(K 1 + 1e-20) (symmetric) or 1 / (K 1 + 1e-20)
};

struct PairwiseTerm {
  const PairwiseKernel* kernel;
  Compatibility compat;
};

// Unary terms: energies, or probabilities p turned into energies -log(min(max(p, clip), 1))
// (pydensecrf's unary_from_softmax) on the way in. Both must be finite, p >= 0.
// Values are (n, labels) row-major, or (with axes > 0) strided: point i at spatial
// coordinates (c_0, .., c_axes-1) (slowest first, i = their row-major index) has label l
// at values[sum c_a * stride[a] + l * label_stride], so callers' arrays in any layout
// (labels first, transposed views) are read in place.
struct Unary {
  const float* values;
  bool probabilities = false;
  float clip = 1e-5f;
  int axes = 0;
  int64_t extent[3] = {0, 0, 0};
  int64_t stride[3] = {0, 0, 0};
  int64_t label_stride = 1;

  // Where point i's first label lies (labels: the label count of the (n, labels) layout).
  int64_t offset(int64_t i, int labels) const {
    if (axes == 0) return i * labels;
    int64_t at = 0;
    for (int a = axes - 1; a >= 0; --a) {
      at += (i % extent[a]) * stride[a];
      i /= extent[a];
    }
    return at;
  }
};

// q = softmax(-unary) per point (densecrf's startInference).
void mean_field_start(const float* unary, int64_t n, int labels, float* q, int threads);

// One mean-field update of q in place: q = softmax(-unary - sum_k mu_k(K_k q)).
void mean_field_step(const float* unary, int64_t n, int labels, const std::vector<PairwiseTerm>& terms, float* q,
                     int threads);

// q after `iterations` updates from softmax(-unary). `history` (iterations, n, labels), if
// given, gets the q each update starts from (softmax(-unary) first): what the gradient of
// the iterations needs (weaksup.torch.crf_mean_field).
void mean_field(const Unary& unary, int64_t n, int labels, const std::vector<PairwiseTerm>& terms, int iterations,
                float* q, int threads, float* history = nullptr);

// densecrf's klDivergence(Q): sum Q log Q + sum unary Q + sum_k sum Q mu_k(K_k Q).
double kl_divergence(const float* unary, int64_t n, int labels, const std::vector<PairwiseTerm>& terms,
                     const float* q, int threads);

// The image CRF: a Gaussian (positions / sigma) and a bilateral (positions / sigma,
// channels / colour sigma) term, either left out by an empty compatibility.
struct ImageCrfParams {
  std::vector<float> gaussian_sigma;   // per spatial axis, fastest first (x, y, z)
  Compatibility gaussian_compat;
  bool gaussian = true;
  std::vector<float> bilateral_sigma;  // per spatial axis, fastest first
  std::vector<float> color_sigma;      // per channel
  Compatibility bilateral_compat;
  bool bilateral = true;
  Normalization normalization = Normalization::symmetric;
  int iterations = 10;
};

// The features of an image's points: coordinates (fastest axis first, as densecrf's x, y)
// divided by `sigma` (one per axis), then, if `image` (points, channels) is given, its
// channels divided by `color_sigma`. Returns (points, d) row-major.
std::vector<float> image_features(const std::vector<int64_t>& spatial, const std::vector<float>& sigma,
                                  const float* image, int channels, const float* color_sigma);

// A batch of images (batch, points, channels) with spatial shape `spatial` (slowest axis
// first, points = its product) and their unary terms -> q (batch, points, labels).
// `unary` describes image 0's; image b's start unary_batch_stride * b values later.
// Images run in parallel when there are enough of them, else one at a time on all
// threads. `history` (batch, iterations, points, labels), if given: mean_field's.
void dense_crf_images(const float* images, int64_t batch, const std::vector<int64_t>& spatial, int channels,
                      const Unary& unary, int64_t unary_batch_stride, int labels, const ImageCrfParams& params,
                      float* q, int threads, float* history = nullptr);

}  // namespace weaksup
