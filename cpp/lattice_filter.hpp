// Lattice filtering for the training ops (weaksup.torch): the Gaussian filter K v of a
// built lattice, or its transpose K^T v, in float or double, on plain (n, channels)
// arrays. The lattice's blur runs its axes in order, and with vertices missing from the
// lattice the axes' blurs do not commute, so K is not exactly symmetric: K^T blurs the
// axes in reverse order (each axis's blur is symmetric). Gradients need the exact K^T.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "dense_crf.hpp"

namespace weaksup {

// out = slice_scale (K (splat_scale in)), or with `transpose` splat_scale (K^T (slice_scale
// in)): the transpose of the same operator. in, out (n, channels) row-major, distinct.
// Scales are per point (null: 1). Deterministic; sums run in double for T = double.
template <class T>
void lattice_filter(const Lattice& lattice, const T* in, T* out, int channels, bool transpose,
                    const T* splat_scale, const T* slice_scale, int threads);

// One kernel per image of a batch (or one for all, when the features are the same for
// every image: positions only), each normalized as densecrf normalizes it: in float32 with
// densecrf's norms (as dense_crf), in float64 with norms computed in float64.
class KernelBatch {
 public:
  // features (kernels, n, d) row-major; kernels is 1 (shared by any batch) or the batch.
  KernelBatch(const float* features, int64_t kernels, int64_t n, int d, Normalization normalization, int threads);

  // One kernel per image of images (batch, n, channels), spatial shape `spatial` (slowest
  // axis first): the features of image_features (positions / sigma, then channels /
  // color_sigma unless it is empty), computed image by image inside the parallel build.
  static KernelBatch of_images(const float* images, int64_t batch, const std::vector<int64_t>& spatial, int channels,
                               const std::vector<float>& sigma, const std::vector<float>& color_sigma,
                               Normalization normalization, int threads);

  // out = the normalized kernel of image b applied to in[b], or its transpose; in, out
  // (batch, n, channels) row-major.
  template <class T>
  void filter(const T* in, T* out, int64_t batch, int channels, bool transpose, int threads) const;

  // The same for image b alone: in, out (n, channels).
  template <class T>
  void filter_one(int64_t b, const T* in, T* out, int channels, bool transpose, int threads) const;

  int64_t kernels() const { return static_cast<int64_t>(kernels_.size()); }
  int64_t points() const { return points_; }
  const PairwiseKernel& kernel(int64_t b) const { return *kernels_[kernels_.size() == 1 ? 0 : b]; }

 private:
  int64_t points_;
  bool before_, after_;  // which side the norm scales (Normalization)
  std::vector<std::unique_ptr<PairwiseKernel>> kernels_;
  std::vector<std::vector<double>> norm64_;  // per kernel, per point (empty: no normalization)

  template <class T>
  const T* norm(int64_t b) const;

  // features_of(b, scratch): kernel b's (n, d) features (they may live in scratch).
  using FeaturesOf = std::function<const float*(int64_t, std::vector<float>&)>;
  KernelBatch(int64_t kernels, int64_t n, int d, Normalization normalization, int threads,
              const FeaturesOf& features_of);
};

}  // namespace weaksup
