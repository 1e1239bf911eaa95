#include "dense_crf.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

#include "buffer_cache.hpp"
#include "crf_rows.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace weaksup {

namespace {

constexpr int64_t kBlock = 1024;  // points per parallel work item

// fn(i) for every point, in blocks spread over the threads.
// `fence`: fn streams its stores (simd.hpp), fenced before other threads read them.
template <class Fn>
void for_points(int64_t n, int threads, Fn&& fn, bool fence = false) {
  parallel_for((n + kBlock - 1) / kBlock, threads, [&](int, int64_t block) {
    for (int64_t i = block * kBlock; i < std::min(n, (block + 1) * kBlock); ++i) fn(i);
    if (fence) stream_fence();
  });
}

// Per-point label vectors padded to whole F4s (simd.hpp). Padding energies are a huge
// negative number and padding probabilities exact zeros, so they never change a sum.
constexpr float kPadEnergy = -1e30f;

constexpr int64_t kMaxStride = 1024;  // labels per point, padded (checked in check_terms)

struct Padded {
  int64_t n;
  int labels;
  int64_t stride;
  Padded(int64_t n_, int labels_) : n(n_), labels(labels_), stride(padded(labels_)) {}

  // dst (n, stride) = src (n, labels), padding lanes 0.
  void in(const float* src, float* dst, int threads) const {
    for_points(n, threads, [&](int64_t i) {
      std::copy(src + i * labels, src + (i + 1) * labels, dst + i * stride);
      std::fill(dst + i * stride + labels, dst + (i + 1) * stride, 0.0f);
    });
  }
  // dst = -unary (energies) or log(min(max(p, clip), 1)) (probabilities, as pydensecrf's
  // unary_from_softmax), checking the values on the way.
  void minus_unary(const Unary& unary, float* dst, int threads) const {
    const RowKernels& rows = row_kernels(stride);
    const bool rows_in_place = unary.label_stride == 1;
    for_points(n, threads, [&](int64_t i) {
      const float* src = unary.values + unary.offset(i, labels);
      float gathered[kMaxStride];
      if (!rows_in_place) {
        for (int l = 0; l < labels; ++l) gathered[l] = src[l * unary.label_stride];
        src = gathered;
      }
      switch (rows.minus_unary(src, labels, unary.probabilities, unary.clip, kPadEnergy, dst + i * stride, stride)) {
        case 1:
          throw std::invalid_argument(std::string(unary.probabilities ? "probs" : "unary") +
                                      " contains NaN or infinity; replace those values first");
        case 2:
          throw std::invalid_argument("probs has negative values; pass probabilities (or energies as unary=)");
        default:
          break;
      }
    });
  }
  // dst (n, labels) = src (n, stride) without its padding.
  void out(const float* src, float* dst, int threads) const {
    for_points(n, threads, [&](int64_t i) {
      for (int l = 0; l < labels; ++l) dst[i * labels + l] = src[i * stride + l];
    });
  }
};

// energy -= mu(F) for one point (densecrf: tmp2 = mu(F); tmp1 -= tmp2).
void subtract_compat(const Compatibility& mu, const float* f, int labels, int64_t stride, float* energy) {
  switch (mu.kind) {
    case Compatibility::potts: {
      const F4 w = F4::set(mu.w[0]);  // - (-w F): padding lanes of F are 0
      for (int64_t k = 0; k < stride; k += 4) (F4::load(energy + k) + w * F4::load(f + k)).store(energy + k);
      break;
    }
    case Compatibility::diagonal:
      for (int l = 0; l < labels; ++l) energy[l] -= mu.w[l] * f[l];
      break;
    case Compatibility::matrix:
      for (int l = 0; l < labels; ++l) {
        const float* row = mu.w.data() + static_cast<int64_t>(l) * labels;
        float s = 0;
        for (int k = 0; k < labels; ++k) s += row[k] * f[k];
        energy[l] -= s;
      }
      break;
  }
}

void check_terms(int64_t n, int labels, const std::vector<PairwiseTerm>& terms) {
  if (labels < 1 || padded(labels) > kMaxStride) throw std::invalid_argument("labels: need 1 to 1024 labels");
  for (const PairwiseTerm& t : terms) {
    if (t.kernel->points() != n) throw std::invalid_argument("pairwise term: its features have another point count");
    const size_t want = t.compat.kind == Compatibility::potts      ? 1
                        : t.compat.kind == Compatibility::diagonal ? static_cast<size_t>(labels)
                                                                   : static_cast<size_t>(labels) * labels;
    if (t.compat.w.size() != want) throw std::invalid_argument("compat: wrong number of values for the label count");
  }
}

// Mean-field state over padded label vectors: negated unary energies, q and scratch.
class MeanField {
 public:
  MeanField(const Unary& unary, int64_t n, int labels, const std::vector<PairwiseTerm>& terms, int threads)
      : shape_(n, labels), terms_(terms), threads_(threads), minus_unary_(buffer()), q_(buffer()),
        scratch_(terms.size()) {
    check_terms(n, labels, terms);
    shape_.minus_unary(unary, minus_unary_.get(), threads);
    for (size_t t = 0; t < terms_.size(); ++t) {
      const PairwiseTerm& term = terms_[t];
      scratch_[t] = FloatBuffer(static_cast<size_t>(term.kernel->lattice().scratch_size(labels)));
    }
  }

  void start() {
    const RowKernels& rows = row_kernels(shape_.stride);
    std::atomic<bool> finite{true};
    for_points(shape_.n, threads_, [&](int64_t i) {
      if (!rows.exp_normalize(&minus_unary_[i * shape_.stride], shape_.labels, shape_.stride, &q_[i * shape_.stride],
                              false)) {
        finite.store(false, std::memory_order_relaxed);
      }
    });
    check_finite(finite);
  }
  void set_q(const float* q) { shape_.in(q, q_.get(), threads_); }
  void get_q(float* q) const { shape_.out(q_.get(), q, threads_); }

  // Point i's energy row: -unary - sum_k mu_k(K_k q), sliced from each term's blurred
  // vertex values; `filtered` is scratch. Reads only point i's own row of q.
  void point_energy(int64_t i, const std::vector<const float*>& values, const std::vector<float>& alphas,
                    const RowKernels& rows, float* energy, float* filtered) const {
    const int64_t stride = shape_.stride;
    std::copy(&minus_unary_[i * stride], &minus_unary_[(i + 1) * stride], energy);
    for (size_t t = 0; t < terms_.size(); ++t) {
      const PairwiseTerm& term = terms_[t];
      const Lattice& lattice = term.kernel->lattice();
      const int per = lattice.dims() + 1;
      const int32_t* vertex = lattice.entry_vertices() + i * per;
      const float* bary = lattice.weights().data() + i * per;
      const float* scale = term.kernel->slice_scale();
      float w[Lattice::kMaxDims + 1];  // the slice weights of point i, as Lattice::filter computes them
      for (int r = 0; r < per; ++r) w[r] = scale ? bary[r] * alphas[t] * scale[i] : bary[r] * alphas[t];
      const bool potts = term.compat.kind == Compatibility::potts;
      float* sum = potts ? energy : filtered;  // Potts: energy - (-w F), else F first
      const float weight = potts ? term.compat.w[0] : 1.0f;
      if (!potts) std::fill(filtered, filtered + stride, 0.0f);
      if (lattice.vertices() > 0) rows.slice_add(sum, values[t], vertex, w, per, stride, weight);
      if (const float* self = lattice.self_weights()) {  // + self weight x the point's own splatted q
        const float* splat_scale = term.kernel->splat_scale();
        const float own = self[i] * (splat_scale ? splat_scale[i] : 1.0f) * (scale ? scale[i] : 1.0f);
        const int32_t point = static_cast<int32_t>(i);
        rows.slice_add(sum, q_.get(), &point, &own, 1, stride, weight);
      }
      if (!potts) subtract_compat(term.compat, filtered, shape_.labels, stride, energy);
    }
  }

  // q = softmax(-unary - sum_k mu_k(K_k q)), every term in one pass over the points:
  // each block of q is splatted into every lattice while it is in cache, and each
  // point's energy is sliced from every lattice and normalized in place.
  // `out` (n, labels), if given, gets q instead of the padded q_ (the last step).
  void step(float* out = nullptr) {
    const int64_t stride = shape_.stride;
    const int labels = shape_.labels;
    const size_t n_terms = terms_.size();
    const Lattice* first = n_terms ? &terms_[0].kernel->lattice() : nullptr;
    if (first) {
      parallel_for(first->splat_blocks(), threads_, [&](int, int64_t block) {
        for (size_t t = 0; t < n_terms; ++t) {
          terms_[t].kernel->lattice().splat(block, q_.get(), labels, scratch_[t].get(),
                                            terms_[t].kernel->splat_scale());
        }
      });
    }
    std::vector<const float*> values(n_terms);
    std::vector<float> alphas(n_terms);
    for (size_t t = 0; t < n_terms; ++t) alphas[t] = terms_[t].kernel->lattice().alpha();
    for (size_t t = 0; t < n_terms; ++t) {
      values[t] = terms_[t].kernel->lattice().blur(labels, false, threads_, scratch_[t].get());
    }
    const bool aligned = reinterpret_cast<uintptr_t>(q_.get()) % 16 == 0;
    const RowKernels& rows = row_kernels(stride);
    // Energies of a few points first, then their softmaxes back to back, so that the
    // CPU overlaps the softmaxes' long dependency chains (max, exp, sum, divide).
    constexpr int64_t kGroup = 4;
    const int64_t groups = (shape_.n + kGroup - 1) / kGroup;
    std::atomic<bool> finite{true};
    for_points(groups, threads_, [&](int64_t group) {
      alignas(16) float energy[kGroup * kMaxStride], filtered[kMaxStride];  // rows of stride
      const int64_t first = group * kGroup, count = std::min(kGroup, shape_.n - first);
      for (int64_t g = 0; g < count; ++g) point_energy(first + g, values, alphas, rows, energy + g * stride, filtered);
      bool ok = true;
      for (int64_t g = 0; g < count; ++g) {
        const int64_t i = first + g;
        if (out) {
          ok &= rows.exp_normalize(energy + g * stride, labels, stride, filtered, false);
          std::copy(filtered, filtered + labels, out + i * labels);
        } else {
          ok &= rows.exp_normalize(energy + g * stride, labels, stride, &q_[i * stride], aligned);
        }
      }
      if (!ok) finite.store(false, std::memory_order_relaxed);
    }, /*fence=*/true);
    check_finite(finite);
  }

  // densecrf's klDivergence(Q): sum Q log Q + sum unary Q + sum_k sum Q mu_k(K_k Q).
  double kl() {
    const int labels = shape_.labels;
    const int64_t stride = shape_.stride;
    double kl = 0;
    for (int64_t i = 0; i < shape_.n; ++i) {
      for (int l = 0; l < labels; ++l) {
        const float q = q_[i * stride + l];
        kl += q * std::log(std::max(q, 1e-20f)) - minus_unary_[i * stride + l] * q;
      }
    }
    FloatBuffer filtered = buffer();
    std::vector<float> kl_scratch;
    std::vector<float> mu(static_cast<size_t>(stride));
    for (size_t t = 0; t < terms_.size(); ++t) {
      const PairwiseTerm& term = terms_[t];
      term.kernel->filter(q_.get(), filtered.get(), labels, threads_, kl_scratch);
      for (int64_t i = 0; i < shape_.n; ++i) {
        std::fill(mu.begin(), mu.end(), 0.0f);
        subtract_compat(term.compat, &filtered[i * stride], labels, stride, mu.data());  // -mu(F)
        for (int l = 0; l < labels; ++l) kl -= static_cast<double>(q_[i * stride + l]) * mu[l];
      }
    }
    return kl;
  }

 private:
  Padded shape_;
  std::vector<PairwiseTerm> terms_;
  int threads_;
  // Uninitialized (first touched by the parallel loops, so pages fault in on every thread).
  FloatBuffer minus_unary_, q_;
  std::vector<FloatBuffer> scratch_;  // per term

  FloatBuffer buffer() const { return FloatBuffer(static_cast<size_t>(shape_.n * shape_.stride)); }

  // Energies past float32's range (huge unary energies or compat weights) would make q NaN.
  static void check_finite(const std::atomic<bool>& finite) {
    if (!finite.load()) {
      throw std::invalid_argument(
          "unary / compat: the mean-field energies overflowed float32 (NaN or infinity); scale the unary "
          "energies and compat weights down (|energy| well below 1e38)");
    }
  }
};

}  // namespace

Compatibility Compatibility::make(int kind, const float* values, int labels) {
  Compatibility c;
  c.kind = static_cast<Kind>(kind);
  switch (c.kind) {
    case potts:
      c.w.assign(values, values + 1);
      break;
    case diagonal:
      c.w.assign(values, values + labels);
      break;
    case matrix:
      c.w.resize(static_cast<size_t>(labels) * labels);
      for (int i = 0; i < labels; ++i) {
        for (int j = 0; j < labels; ++j) {
          c.w[static_cast<size_t>(i) * labels + j] =
              0.5f * (values[static_cast<size_t>(i) * labels + j] + values[static_cast<size_t>(j) * labels + i]);
        }
      }
      break;
    default:
      throw std::invalid_argument("compat: unknown kind");
  }
  return c;
}

PairwiseKernel::PairwiseKernel(const float* features, int64_t n, int d, Normalization normalization, int threads)
    : lattice_(features, n, d, threads, /*densecrf_padding=*/true),
      // densecrf scales by the norm before filtering (symmetric, before) and after
      // (symmetric, after). It computes a mean norm for `none` that it never uses.
      before_(normalization == Normalization::symmetric || normalization == Normalization::before),
      after_(normalization == Normalization::symmetric || normalization == Normalization::after) {
  if (!before_ && !after_) return;
  std::vector<float> k1(static_cast<size_t>(n * padded(1)), 0.0f);  // K 1, one channel padded
  for (int64_t i = 0; i < n; ++i) k1[i * padded(1)] = 1.0f;
  std::vector<float> scratch(static_cast<size_t>(lattice_.scratch_size(1)));
  lattice_.filter(k1.data(), k1.data(), 1, false, threads, scratch.data());
  norm_.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float v = k1[i * padded(1)];
    norm_[i] = normalization == Normalization::symmetric ? static_cast<float>(1.0 / std::sqrt(v + 1e-20))
                                                          : static_cast<float>(1.0 / (v + 1e-20));
  }
}

void PairwiseKernel::filter(const float* in, float* out, int channels, int threads,
                            std::vector<float>& scratch) const {
  if (scratch.size() < static_cast<size_t>(lattice_.scratch_size(channels))) {
    scratch.resize(static_cast<size_t>(lattice_.scratch_size(channels)));
  }
  lattice_.filter(in, out, channels, false, threads, scratch.data(), splat_scale(), slice_scale());
}

void mean_field_start(const float* unary, int64_t n, int labels, float* q, int threads) {
  MeanField mf(Unary{unary}, n, labels, {}, threads);
  mf.start();
  mf.get_q(q);
}

void mean_field_step(const float* unary, int64_t n, int labels, const std::vector<PairwiseTerm>& terms, float* q,
                     int threads) {
  MeanField mf(Unary{unary}, n, labels, terms, threads);
  mf.set_q(q);
  mf.step();
  mf.get_q(q);
}

void mean_field(const Unary& unary, int64_t n, int labels, const std::vector<PairwiseTerm>& terms, int iterations,
                float* q, int threads, float* history) {
  MeanField mf(unary, n, labels, terms, threads);
  mf.start();
  for (int it = 0; it + 1 < iterations; ++it) {
    if (history) mf.get_q(history + it * n * labels);
    mf.step();
  }
  if (history && iterations > 0) mf.get_q(history + (iterations - 1) * n * labels);
  if (iterations > 0) mf.step(q);  // the last step writes q itself
  else mf.get_q(q);
}

double kl_divergence(const float* unary, int64_t n, int labels, const std::vector<PairwiseTerm>& terms,
                     const float* q, int threads) {
  MeanField mf(Unary{unary}, n, labels, terms, threads);
  mf.set_q(q);
  return mf.kl();
}

std::vector<float> image_features(const std::vector<int64_t>& spatial, const std::vector<float>& sigma,
                                  const float* image, int channels, const float* color_sigma) {
  const int axes = static_cast<int>(spatial.size());
  int64_t points = 1;
  for (int64_t s : spatial) points *= s;
  const int d = axes + (image ? channels : 0);
  std::vector<float> f(static_cast<size_t>(points * d));
  for (int64_t i = 0; i < points; ++i) {
    int64_t rest = i;
    for (int a = 0; a < axes; ++a) {
      const int64_t extent = spatial[axes - 1 - a];
      f[i * d + a] = static_cast<float>(rest % extent) / sigma[a];
      rest /= extent;
    }
    for (int c = 0; image && c < channels; ++c) f[i * d + axes + c] = image[i * channels + c] / color_sigma[c];
  }
  return f;
}

void dense_crf_images(const float* images, int64_t batch, const std::vector<int64_t>& spatial, int channels,
                      const Unary& unary, int64_t unary_batch_stride, int labels, const ImageCrfParams& params,
                      float* q, int threads, float* history) {
  int64_t points = 1;
  for (int64_t s : spatial) points *= s;
  const int axes = static_cast<int>(spatial.size());
  // Enough images: one per thread. Few: one at a time, each on every thread.
  const int all = resolve_threads(threads, std::numeric_limits<int64_t>::max());
  const bool across = batch > 1 && batch >= all;
  const int outer = across ? all : 1, inner = across ? 1 : all;
  auto features = [&](const std::vector<float>& sigma, const float* image, const float* color_sigma) {
    return std::make_pair(image_features(spatial, sigma, image, channels, color_sigma), axes + (image ? channels : 0));
  };
  // The Gaussian term depends on positions only: one kernel serves the whole batch.
  std::unique_ptr<PairwiseKernel> gaussian;
  if (params.gaussian) {
    auto [f, d] = features(params.gaussian_sigma, nullptr, nullptr);
    gaussian = std::make_unique<PairwiseKernel>(f.data(), points, d, params.normalization, all);
  }
  parallel_for(batch, outer, [&](int, int64_t b) {
    std::unique_ptr<PairwiseKernel> bilateral;
    if (params.bilateral) {
      auto [f, d] = features(params.bilateral_sigma, images + b * points * channels, params.color_sigma.data());
      bilateral = std::make_unique<PairwiseKernel>(f.data(), points, d, params.normalization, inner);
    }
    // densecrf users add the Gaussian term first; the order only changes float rounding.
    std::vector<PairwiseTerm> terms;
    if (gaussian) terms.push_back({gaussian.get(), params.gaussian_compat});
    if (bilateral) terms.push_back({bilateral.get(), params.bilateral_compat});
    Unary image_unary = unary;
    image_unary.values += b * unary_batch_stride;
    mean_field(image_unary, points, labels, terms, params.iterations, q + b * points * labels, inner,
               history ? history + b * params.iterations * points * labels : nullptr);
  });
}

}  // namespace weaksup
