#include "lattice_filter.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "parallel.hpp"

namespace weaksup {

namespace {

constexpr int64_t kBlock = 1024;  // vertices or points per parallel work item

int64_t blocks(int64_t n) { return (n + kBlock - 1) / kBlock; }

}  // namespace

template <class T>
void lattice_filter(const Lattice& lattice, const T* in, T* out, int channels, bool transpose,
                    const T* splat_scale, const T* slice_scale, int threads) {
  if (transpose) std::swap(splat_scale, slice_scale);  // (S2 K S1)^T = S1 K^T S2
  const int64_t n = lattice.points(), m = lattice.vertices(), c = channels;
  const int d = lattice.dims(), per = d + 1;
  const int32_t* vertex = lattice.entry_vertices();
  const float* weight = lattice.weights().data();
  const int32_t* neighbour = lattice.neighbours();
  // Two value arrays of m + 1 vertices; the last, zero, stands for missing neighbours.
  std::vector<T> values(static_cast<size_t>((m + 1) * c), T(0)), blurred(values.size(), T(0));
  // Splat: point order, so that every vertex sums its points in the same order each time.
  for (int64_t i = 0; i < n; ++i) {
    const T scale = splat_scale ? splat_scale[i] : T(1);
    for (int r = 0; r < per; ++r) {
      const int64_t e = i * per + r;
      if (vertex[e] == m) continue;  // a vertex left out of the lattice (Lattice::self_weights)
      const T w = static_cast<T>(weight[e]) * scale;
      T* v = &values[static_cast<size_t>(vertex[e] * c)];
      for (int64_t k = 0; k < c; ++k) v[k] += w * in[i * c + k];
    }
  }
  // Blur with weights (0.5, 1, 0.5) along each axis: in order for K, reversed for K^T.
  T* src = values.data();
  T* dst = blurred.data();
  for (int step = 0; step <= d; ++step) {
    const int j = transpose ? d - step : step;
    parallel_for(blocks(m), threads, [&](int, int64_t block) {
      for (int64_t v = block * kBlock; v < std::min(m, (block + 1) * kBlock); ++v) {
        const T* n1 = src + static_cast<int64_t>(neighbour[(v * per + j) * 2]) * c;
        const T* n2 = src + static_cast<int64_t>(neighbour[(v * per + j) * 2 + 1]) * c;
        for (int64_t k = 0; k < c; ++k) dst[v * c + k] = src[v * c + k] + T(0.5) * (n1[k] + n2[k]);
      }
    });
    std::swap(src, dst);
  }
  // Slice (the splat's transpose) with densecrf's alpha, plus the self weight of points
  // alone in their part of the lattice.
  const T alpha = static_cast<T>(lattice.alpha());
  const float* self = lattice.self_weights();
  parallel_for(blocks(n), threads, [&](int, int64_t block) {
    for (int64_t i = block * kBlock; i < std::min(n, (block + 1) * kBlock); ++i) {
      T* o = out + i * c;
      std::fill(o, o + c, T(0));
      for (int r = 0; r < per; ++r) {
        const int64_t e = i * per + r;
        const T w = static_cast<T>(weight[e]) * alpha;
        const T* v = src + static_cast<int64_t>(vertex[e]) * c;
        for (int64_t k = 0; k < c; ++k) o[k] += w * v[k];
      }
      const T outer = slice_scale ? slice_scale[i] : T(1);
      const T own = self ? static_cast<T>(self[i]) * (splat_scale ? splat_scale[i] : T(1)) : T(0);
      for (int64_t k = 0; k < c; ++k) o[k] = outer * (o[k] + own * in[i * c + k]);
    }
  });
}

template void lattice_filter<float>(const Lattice&, const float*, float*, int, bool, const float*, const float*, int);
template void lattice_filter<double>(const Lattice&, const double*, double*, int, bool, const double*, const double*,
                                     int);

KernelBatch::KernelBatch(const float* features, int64_t kernels, int64_t n, int d, Normalization normalization,
                         int threads)
    : KernelBatch(kernels, n, d, normalization, threads,
                  [features, n, d](int64_t b, std::vector<float>&) { return features + b * n * d; }) {}

KernelBatch KernelBatch::of_images(const float* images, int64_t batch, const std::vector<int64_t>& spatial,
                                   int channels, const std::vector<float>& sigma,
                                   const std::vector<float>& color_sigma, Normalization normalization, int threads) {
  int64_t n = 1;
  for (int64_t s : spatial) n *= s;
  const bool colour = !color_sigma.empty();
  const int d = static_cast<int>(spatial.size()) + (colour ? channels : 0);
  return KernelBatch(batch, n, d, normalization, threads, [&](int64_t b, std::vector<float>& scratch) {
    scratch = image_features(spatial, sigma, colour ? images + b * n * channels : nullptr, channels,
                             colour ? color_sigma.data() : nullptr);
    return static_cast<const float*>(scratch.data());
  });
}

KernelBatch::KernelBatch(int64_t kernels, int64_t n, int d, Normalization normalization, int threads,
                         const FeaturesOf& features_of)
    : points_(n),
      before_(normalization == Normalization::symmetric || normalization == Normalization::before),
      after_(normalization == Normalization::symmetric || normalization == Normalization::after),
      kernels_(static_cast<size_t>(kernels)),
      norm64_(static_cast<size_t>(before_ || after_ ? kernels : 0)) {
  const int all = resolve_threads(threads, std::numeric_limits<int64_t>::max());
  const bool across = kernels > 1 && kernels >= all;
  parallel_for(kernels, across ? all : 1, [&](int, int64_t b) {
    std::vector<float> scratch;
    kernels_[b] = std::make_unique<PairwiseKernel>(features_of(b, scratch), n, d, normalization, across ? 1 : all);
    if (norm64_.empty()) return;
    std::vector<double> ones(static_cast<size_t>(n), 1.0), k1(static_cast<size_t>(n));
    lattice_filter<double>(kernels_[b]->lattice(), ones.data(), k1.data(), 1, false, nullptr, nullptr,
                           across ? 1 : all);
    const bool symmetric = normalization == Normalization::symmetric;
    for (double& v : k1) v = symmetric ? 1.0 / std::sqrt(v + 1e-20) : 1.0 / (v + 1e-20);
    norm64_[b] = std::move(k1);
  });
}

template <>
const float* KernelBatch::norm<float>(int64_t b) const {
  return kernel(b).splat_scale() ? kernel(b).splat_scale() : kernel(b).slice_scale();
}

template <>
const double* KernelBatch::norm<double>(int64_t b) const {
  return norm64_.empty() ? nullptr : norm64_[norm64_.size() == 1 ? 0 : b].data();
}

template <class T>
void KernelBatch::filter(const T* in, T* out, int64_t batch, int channels, bool transpose, int threads) const {
  if (kernels_.size() != 1 && static_cast<int64_t>(kernels_.size()) != batch) {
    throw std::invalid_argument("internal: the batch differs from the kernels'");
  }
  const int all = resolve_threads(threads, std::numeric_limits<int64_t>::max());
  const bool across = batch > 1 && batch >= all;
  const int64_t size = points_ * channels;
  parallel_for(batch, across ? all : 1, [&](int, int64_t b) {
    filter_one(b, in + b * size, out + b * size, channels, transpose, across ? 1 : all);
  });
}

template <class T>
void KernelBatch::filter_one(int64_t b, const T* in, T* out, int channels, bool transpose, int threads) const {
  const T* scale = norm<T>(b);
  lattice_filter(kernel(b).lattice(), in, out, channels, transpose, before_ ? scale : nullptr,
                 after_ ? scale : nullptr, threads);
}

template void KernelBatch::filter_one<float>(int64_t, const float*, float*, int, bool, int) const;
template void KernelBatch::filter_one<double>(int64_t, const double*, double*, int, bool, int) const;

template void KernelBatch::filter<float>(const float*, float*, int64_t, int, bool, int) const;
template void KernelBatch::filter<double>(const double*, double*, int64_t, int, bool, int) const;

}  // namespace weaksup
