// Checks the CUDA kernels of cuda/ against the CPU kernels of cpp/, bit for bit, on
// random inputs, without a GPU: cuda/*.cu are compiled as C++ with
// -DWEAKSUP_CUDA_EMULATION against shim/ (a host stand-in for the CUDA runtime that
// runs each grid's threads in a shuffled order on several host threads). Built and run
// by tests/test_cuda_emulated.py.
//
// Usage: emulate [iterations [host_threads]]. Inputs come from a fixed seed. Prints
// "emulated CUDA == CPU: N checks, F failures" last; exits non-zero on any failure or
// leaked device buffer.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cam_boxes.hpp"
#include "components.hpp"
#include "dense_crf.hpp"
#include "kernels.hpp"
#include "label_model.hpp"
#include "lattice_filter.hpp"
#include "region_growing.hpp"
#include "wsol.hpp"

using namespace weaksup;

namespace {

std::mt19937_64 rng(7);
int64_t checks = 0, failures = 0;

// Counts a check; on failure prints it, and gives up after 20 failures.
#define EXPECT(cond, ...)                              \
  do {                                                 \
    ++checks;                                          \
    if (!(cond)) {                                     \
      ++failures;                                      \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);                        \
      std::printf("\n");                               \
      if (failures > 20) std::exit(1);                 \
    }                                                  \
  } while (0)

double uni() { return std::uniform_real_distribution<double>(0, 1)(rng); }
int64_t randint(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }

// A map in [0, 1]: pure noise (kind 0) or random blobs and rings plus some noise, so
// that masks have components of every size, holes and nested components.
std::vector<double> field(int64_t h, int64_t w, int kind) {
  std::vector<double> f(h * w, 0.0);
  if (kind == 0) {
    for (auto& v : f) v = uni();
    return f;
  }
  const int blobs = static_cast<int>(randint(1, 6));
  for (int k = 0; k < blobs; ++k) {
    const double cy = uni() * h, cx = uni() * w, s = 1 + uni() * std::max(h, w) / 3.0, a = uni();
    const bool ring = uni() < 0.4;
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        double d = std::sqrt((y - cy) * (y - cy) + (x - cx) * (x - cx));
        if (ring) d = std::fabs(d - s);
        f[y * w + x] += a * std::exp(-d * d / (s * s));
      }
    }
  }
  const double noise = kind == 2 ? 0.3 : 0.05;
  for (auto& v : f) v += noise * uni();
  const double top = *std::max_element(f.begin(), f.end());
  if (top > 0) {
    for (auto& v : f) v /= top;
  }
  return f;
}

// Image sizes, including single rows, single columns and tiny images.
void random_shape(int64_t& h, int64_t& w) {
  const int r = static_cast<int>(randint(0, 9));
  if (r == 0) {
    h = 1;
    w = randint(1, 70);
  } else if (r == 1) {
    h = randint(1, 70);
    w = 1;
  } else if (r == 2) {
    h = randint(1, 4);
    w = randint(1, 4);
  } else {
    h = randint(2, 48);
    w = randint(2, 80);
  }
}

std::vector<uint8_t> random_quantized(int64_t batch, int64_t h, int64_t w) {
  std::vector<uint8_t> q(batch * h * w);
  for (int64_t b = 0; b < batch; ++b) {
    const auto f = field(h, w, static_cast<int>(randint(0, 2)));
    const double scale = uni() < 0.1 ? 0.0 : uni() < 0.2 ? 0.02 : 1.0;  // all-zero and low maxima too
    for (int64_t i = 0; i < h * w; ++i) q[b * h * w + i] = static_cast<uint8_t>(f[i] * scale * 255.0);
  }
  return q;
}

void test_label(int iter) {
  int64_t h, w;
  random_shape(h, w);
  const int64_t batch = randint(1, 4);
  const int conn = uni() < 0.5 ? 4 : 8;
  std::vector<uint8_t> mask(batch * h * w);
  for (int64_t b = 0; b < batch; ++b) {
    const auto f = field(h, w, static_cast<int>(randint(0, 2)));
    const double t = uni();
    for (int64_t i = 0; i < h * w; ++i) mask[b * h * w + i] = f[i] > t ? static_cast<uint8_t>(randint(1, 255)) : 0;
  }
  std::vector<int32_t> cpu(mask.size()), gpu(mask.size(), -7);
  std::vector<int64_t> cpu_counts(batch), gpu_counts(batch, -7);
  std::vector<ComponentStats> stats;
  label_volumes(mask.data(), batch, {1, h, w}, conn, cpu.data(), nullptr, cpu_counts.data(), &stats, 1);
  gpu::label(mask.data(), gpu.data(), gpu_counts.data(), batch, h, w, conn, nullptr);
  EXPECT(cpu == gpu, "label: labels, iter %d (%lldx%lld, connectivity %d)", iter, (long long)h, (long long)w, conn);
  EXPECT(cpu_counts == gpu_counts, "label: counts, iter %d", iter);

  std::vector<int64_t> offsets(batch + 1, 0);
  for (int64_t b = 0; b < batch; ++b) offsets[b + 1] = offsets[b] + cpu_counts[b];
  const int64_t n = offsets[batch];
  std::vector<int64_t> area(n, -3), box(4 * n, -3);
  std::vector<double> centroid(2 * n, -3);
  gpu::component_stats(gpu.data(), batch, h, w, offsets.data(), area.data(), box.data(), centroid.data(), nullptr);
  for (int64_t b = 0; b < batch; ++b) {
    const ComponentStats& s = stats[b];
    for (int64_t k = 0; k < cpu_counts[b]; ++k) {
      const int64_t j = offsets[b] + k;
      EXPECT(area[j] == s.area[k], "component_stats: area, iter %d", iter);
      const int64_t want[4] = {s.box[6 * k], s.box[6 * k + 1], s.box[6 * k + 3], s.box[6 * k + 4]};
      EXPECT(std::equal(want, want + 4, &box[4 * j]), "component_stats: box, iter %d", iter);
      EXPECT(std::memcmp(&centroid[2 * j], &s.centroid[3 * k], 2 * sizeof(double)) == 0,
             "component_stats: centroid, iter %d", iter);
    }
  }
}

template <class T>
void test_cam(int iter) {
  int64_t h, w;
  random_shape(h, w);
  const int64_t batch = randint(1, 4);
  const int conn = uni() < 0.5 ? 4 : 8;
  const int norm = static_cast<int>(randint(0, 2));
  const int dtype = sizeof(T) == 4 ? gpu::kFloat32 : gpu::kFloat64;
  double threshold = uni();
  if (uni() < 0.1) threshold = -uni();
  std::vector<T> cams(batch * h * w);
  for (int64_t b = 0; b < batch; ++b) {
    T* cam = cams.data() + b * h * w;
    const auto f = field(h, w, static_cast<int>(randint(0, 2)));
    const int mode = static_cast<int>(randint(0, 5));  // tiny, scaled, shifted or constant maps
    const double scale = mode == 1 ? 1e-30 : mode == 2 ? 7.3 : 1;
    const double shift = mode == 3 ? -0.5 : mode == 4 ? -2 : 0;
    for (int64_t i = 0; i < h * w; ++i) cam[i] = static_cast<T>(mode == 5 ? 0.25 : f[i] * scale + shift);
    if (uni() < 0.2) {
      for (int64_t i = 0; i < h * w; ++i) cam[i] = std::round(cam[i] * 8) / 8;  // ties
    }
  }
  std::vector<int64_t> cpu(4 * batch), gpu(4 * batch, -7);
  cam_boxes<T>(cams.data(), batch, h, w, threshold, static_cast<CamNormalization>(norm), conn, cpu.data(), 1);
  gpu::cam_to_boxes(cams.data(), dtype, batch, h, w, threshold, norm, conn, gpu.data(), nullptr);
  EXPECT(cpu == gpu, "cam_boxes: iter %d (normalization %d, connectivity %d, %lldx%lld)", iter, norm, conn,
         (long long)h, (long long)w);

  if (iter % 10 == 0) {  // a NaN or infinity must be reported
    cams[randint(0, static_cast<int64_t>(cams.size()) - 1)] = iter % 20 ? NAN : -INFINITY;
    bool reported = false;
    try {
      gpu::cam_to_boxes(cams.data(), dtype, batch, h, w, threshold, norm, conn, gpu.data(), nullptr);
    } catch (const std::invalid_argument& e) {
      reported = std::string(e.what()).find("NaN or infinity") != std::string::npos;
    }
    EXPECT(reported, "cam_boxes: NaN not reported, iter %d", iter);
  }
}

template <class T>
void test_quantize(int iter) {
  const int64_t batch = randint(1, 5), pixels = randint(1, 500);
  const bool normalize = uni() < 0.5;
  std::vector<T> maps(batch * pixels);
  for (auto& v : maps) v = static_cast<T>(normalize ? (uni() - 0.3) * 5 : uni());
  if (uni() < 0.2) std::fill(maps.begin(), maps.begin() + pixels, T(0.5));  // a constant map
  if (uni() < 0.2) {
    maps[0] = 0;
    maps[pixels - 1] = 1;
  }
  // bit 0: not finite, bit 1: outside [0, 1], bit 2: max - min past the float64 range
  const int bad = static_cast<int>(randint(0, 7));
  if (bad & 1) maps[randint(0, static_cast<int64_t>(maps.size()) - 1)] = uni() < 0.5 ? NAN : INFINITY;
  if (bad & 2) maps[randint(0, static_cast<int64_t>(maps.size()) - 1)] = T(1.5);
  if (bad & 4) {
    const T big = std::numeric_limits<T>::max();  // in one map (float32: fine in float64)
    const int64_t b = randint(0, batch - 1);
    maps[b * pixels + randint(0, pixels - 1)] = big;
    maps[b * pixels + randint(0, pixels - 1)] = -big;
  }
  std::vector<uint8_t> cpu(maps.size()), gpu(maps.size());
  std::string cpu_error, gpu_error;
  try {
    quantize_scoremaps<T>(maps.data(), batch, pixels, normalize, cpu.data(), 1);
  } catch (const std::invalid_argument& e) {
    cpu_error = e.what();
  }
  try {
    gpu::quantize_scoremaps(maps.data(), sizeof(T) == 4 ? gpu::kFloat32 : gpu::kFloat64, batch, pixels, normalize,
                            gpu.data(), nullptr);
  } catch (const std::invalid_argument& e) {
    gpu_error = e.what();
  }
  EXPECT(cpu_error == gpu_error, "quantize: errors, iter %d: '%s' vs '%s'", iter, cpu_error.c_str(),
         gpu_error.c_str());
  if (cpu_error.empty()) EXPECT(cpu == gpu, "quantize: values, iter %d", iter);
}

// Runs box_correct on both sides with every combination of multi_contour and boxes_v1.
void compare_box_correct(const char* what, int iter, const std::vector<uint8_t>& q, int64_t batch, int64_t h,
                         int64_t w, const std::vector<double>& thresholds, const std::vector<int64_t>& gt,
                         const std::vector<int64_t>& offsets, const std::vector<double>& iou,
                         std::vector<uint8_t>* gpu_correct = nullptr, std::vector<int64_t>* gpu_boxes = nullptr) {
  const int64_t n_t = static_cast<int64_t>(thresholds.size()), n_iou = static_cast<int64_t>(iou.size());
  for (bool multi : {false, true}) {
    for (bool want_boxes : {false, true}) {
      std::vector<uint8_t> cc(batch * n_iou * n_t, 66), gc(batch * n_iou * n_t, 77);
      std::vector<int64_t> cb(batch * n_t * 4, -9), gb(batch * n_t * 4, -9);
      box_correct(q.data(), batch, h, w, thresholds.data(), n_t, gt.data(), offsets.data(), iou.data(), n_iou, multi,
                  cc.data(), want_boxes ? cb.data() : nullptr, 1);
      gpu::box_correct(q.data(), batch, h, w, thresholds.data(), n_t, gt.data(), offsets.data(), iou.data(), n_iou,
                       multi, gc.data(), want_boxes ? gb.data() : nullptr, nullptr);
      EXPECT(cc == gc, "%s: correct, iter %d, multi_contour %d, boxes %d (%lldx%lld)", what, iter, multi, want_boxes,
             (long long)h, (long long)w);
      EXPECT(cb == gb, "%s: V1 boxes, iter %d, multi_contour %d (%lldx%lld)", what, iter, multi, (long long)h,
             (long long)w);
      if (gpu_correct && multi) *gpu_correct = gc;
      if (gpu_boxes && want_boxes) *gpu_boxes = gb;
    }
  }
}

void test_box_correct(int iter) {
  int64_t h, w;
  random_shape(h, w);
  if (iter % 7 == 0) {  // large enough for one labelling chunk per level
    h = randint(30, 64);
    w = randint(30, 64);
  }
  const int64_t batch = randint(1, 3);
  const std::vector<uint8_t> q = random_quantized(batch, h, w);
  std::vector<double> thresholds;
  const int kind = static_cast<int>(randint(0, 3));
  if (kind == 0) {
    for (int i = 0; i < 100; ++i) thresholds.push_back(i * 0.01);  // the protocol's
  } else {
    const int n = static_cast<int>(randint(1, 12));
    for (int i = 0; i < n; ++i) thresholds.push_back(uni());
  }
  if (kind == 2) thresholds.push_back(thresholds[0]);  // duplicates
  if (kind == 3 && uni() < 0.5) thresholds.push_back(-uni());  // levels below -1
  if (kind == 3 && uni() < 0.5) thresholds.push_back(1.0);     // the maximum: empty
  if (uni() < 0.3) {  // level -1 (all foreground) for image 0
    const int64_t top = *std::max_element(q.begin(), q.begin() + h * w);
    if (top > 0) thresholds.push_back(-1.5 / top);
  }
  std::vector<int64_t> gt, offsets(batch + 1, 0);
  for (int64_t b = 0; b < batch; ++b) {
    const int n = static_cast<int>(randint(0, 3));
    for (int k = 0; k < n; ++k) {
      int64_t x0 = randint(0, w - 1), x1 = randint(0, w - 1), y0 = randint(0, h - 1), y1 = randint(0, h - 1);
      if (uni() < 0.1) x0 = y0 = x1 = y1 = 0;  // the protocol's empty-mask box
      gt.insert(gt.end(), {std::min(x0, x1), std::min(y0, y1), std::max(x0, x1), std::max(y0, y1)});
    }
    offsets[b + 1] = offsets[b] + n;
  }
  const std::vector<double> iou = {30, 50, 70, 0, 100, 12.5};
  compare_box_correct("box_correct", iter, q, batch, h, w, thresholds, gt, offsets, iou);
}

// Levels below -1 act as -1: every pixel foreground, so the V1 box is the whole image
// and all such thresholds score alike.
void test_levels_below_minus_one(int iter) {
  int64_t h, w;
  random_shape(h, w);
  std::vector<uint8_t> q = random_quantized(1, h, w);
  q[randint(0, h * w - 1)] = static_cast<uint8_t>(randint(1, 255));  // max(s) > 0
  const int64_t top = *std::max_element(q.begin(), q.end());
  const std::vector<double> thresholds = {-1.5 / top, -2.0, -2.0 - 1000.0 * uni()};
  const std::vector<int64_t> gt = {randint(0, w - 1), randint(0, h - 1), w - 1, h - 1}, offsets = {0, 1};
  const std::vector<double> iou = {30, 50, 70, 90};
  std::vector<uint8_t> correct;
  std::vector<int64_t> boxes;
  compare_box_correct("level -1", iter, q, 1, h, w, thresholds, gt, offsets, iou, &correct, &boxes);
  for (int64_t t = 0; t < 3; ++t) {
    EXPECT(boxes[4 * t] == 0 && boxes[4 * t + 1] == 0 && boxes[4 * t + 2] == w - 1 && boxes[4 * t + 3] == h - 1,
           "level -1: V1 box is not the image, iter %d, threshold %lld", iter, (long long)t);
    for (size_t d = 0; d < iou.size(); ++d) {
      EXPECT(correct[d * 3 + t] == correct[d * 3], "level -1: thresholds disagree, iter %d", iter);
    }
  }
}

// Every level of a map, through box_correct with no ground truth: V1 boxes that IoU
// thresholds would hide.
void test_v1_boxes(int iter) {
  const int64_t h = randint(2, 40), w = randint(2, 40);
  std::vector<uint8_t> q(h * w);
  const auto f = field(h, w, static_cast<int>(randint(0, 2)));
  for (int64_t i = 0; i < h * w; ++i) q[i] = static_cast<uint8_t>(f[i] * 255.0);
  std::vector<double> thresholds;
  for (int i = 0; i < 256; ++i) thresholds.push_back(i / 255.0);
  const std::vector<int64_t> gt, offsets = {0, 0};
  compare_box_correct("all levels", iter, q, 1, h, w, thresholds, gt, offsets, {50});
}

// A random compatibility of `kind` (Potts, diagonal, matrix) with values of size `scale`.
std::vector<float> random_compat(int kind, int labels, double scale) {
  const size_t n = kind == 0 ? 1 : kind == 1 ? labels : static_cast<size_t>(labels) * labels;
  std::vector<float> w(n);
  for (auto& v : w) v = static_cast<float>(scale * (kind == 0 ? 0.5 + uni() : uni() * 2 - 1.5));
  return w;
}

// dense_crf_images: the GPU sums floats in another order, so it matches the CPU to 1e-4
// rather than bit for bit; but it must give the same bits on every run (the emulator
// runs the threads in a new shuffled order each time).
void test_dense_crf(int iter) {
  std::vector<int64_t> spatial;
  int64_t h, w;
  random_shape(h, w);
  h = std::min<int64_t>(h, 28);
  w = std::min<int64_t>(w, 28);
  if (iter % 4 == 3) spatial = {randint(1, 4), h, w};  // a small volume
  else spatial = {h, w};
  const int64_t depth = spatial.size() == 3 ? spatial[0] : 1, points = depth * h * w;
  const int64_t batch = randint(1, 3);
  const int channels = static_cast<int>(randint(1, 3)), labels = uni() < 0.2 ? 21 : static_cast<int>(randint(2, 5));
  std::vector<float> images(batch * points * channels), unary(batch * points * labels);
  for (int64_t b = 0; b < batch; ++b) {
    for (int c = 0; c < channels; ++c) {
      const auto f = field(depth * h, w, static_cast<int>(randint(0, 2)));
      for (int64_t i = 0; i < points; ++i) images[(b * points + i) * channels + c] = static_cast<float>(f[i] * 255);
    }
    for (int l = 0; l < labels; ++l) {  // noisy but spatially coherent label scores
      const auto f = field(depth * h, w, 1);
      for (int64_t i = 0; i < points; ++i) {
        unary[(b * points + i) * labels + l] = static_cast<float>(-std::log(0.05 + f[i] * (0.5 + uni())));
      }
    }
  }
  ImageCrfParams params;
  gpu::CrfTerm gaussian, bilateral;
  const int normalization = static_cast<int>(randint(0, 3));
  const double scale = normalization == 0 ? 0.05 : 1.0;  // unnormalized kernels sum many points
  const int pick = static_cast<int>(randint(0, 5));      // 0: Gaussian only, 1: bilateral only, else both
  params.gaussian = gaussian.enabled = pick != 1;
  params.bilateral = bilateral.enabled = pick != 0;
  for (size_t a = 0; a < spatial.size(); ++a) {
    gaussian.sigma.push_back(static_cast<float>(0.5 + 4 * uni()));
    bilateral.sigma.push_back(static_cast<float>(3 + 60 * uni()));
  }
  for (int c = 0; c < channels; ++c) bilateral.color_sigma.push_back(static_cast<float>(3 + 20 * uni()));
  gaussian.compat_kind = static_cast<int>(randint(0, 2));
  bilateral.compat_kind = static_cast<int>(randint(0, 2));
  gaussian.compat = random_compat(gaussian.compat_kind, labels, scale);
  bilateral.compat = random_compat(bilateral.compat_kind, labels, scale);
  params.gaussian_sigma = gaussian.sigma;
  params.gaussian_compat = Compatibility::make(gaussian.compat_kind, gaussian.compat.data(), labels);
  params.bilateral_sigma = bilateral.sigma;
  params.color_sigma = bilateral.color_sigma;
  params.bilateral_compat = Compatibility::make(bilateral.compat_kind, bilateral.compat.data(), labels);
  params.normalization = static_cast<Normalization>(normalization);
  params.iterations = static_cast<int>(randint(0, 5));

  std::vector<float> cpu(unary.size()), gpu1(unary.size(), -7), gpu2(unary.size(), -7);
  dense_crf_images(images.data(), batch, spatial, channels, Unary{unary.data()}, points * labels, labels, params,
                   cpu.data(), 1);
  auto run = [&](std::vector<float>& out) {
    gpu::dense_crf_images(images.data(), batch, spatial, channels, unary.data(), labels, gaussian, bilateral,
                          normalization, params.iterations, out.data(), nullptr);
  };
  run(gpu1);
  run(gpu2);
  double worst = 0;
  for (size_t i = 0; i < cpu.size(); ++i) worst = std::max(worst, std::fabs(double{cpu[i]} - gpu1[i]));
  EXPECT(worst <= 1e-4, "dense_crf: max |GPU - CPU| = %g, iter %d (%zu axes, %lldx%lld, batch %lld, %d channels, "
         "%d labels, normalization %d, terms %d, kinds %d %d)", worst, iter, spatial.size(), (long long)h,
         (long long)w, (long long)batch, channels, labels, normalization, pick, gaussian.compat_kind,
         bilateral.compat_kind);
  EXPECT(std::memcmp(gpu1.data(), gpu2.data(), gpu1.size() * sizeof(float)) == 0,
         "dense_crf: two GPU runs differ, iter %d", iter);

  if (iter % 10 == 0) {  // bad inputs are reported, not computed
    auto reported = [&](const char* what) {
      try {
        run(gpu1);
      } catch (const std::invalid_argument& e) {
        return std::string(e.what()).find(what) != std::string::npos;
      }
      return false;
    };
    bilateral.enabled = true;
    images[randint(0, static_cast<int64_t>(images.size()) - 1)] = NAN;
    EXPECT(reported("finite"), "dense_crf: NaN not reported, iter %d", iter);
    bilateral.compat.push_back(1.0f);
    EXPECT(reported("compat"), "dense_crf: wrong compat size not reported, iter %d", iter);
  }
}

// ---- label model ----

// A label matrix (n, m) with values in [-1, k) stored in one of four layouts: 0 C order,
// 1 transposed (Fortran order), 2 every other row and every third column of a bigger
// array (the gaps hold invalid labels, so reading them shows), 3 rows reversed
// (negative row stride). `at` points at element (0, 0).
template <class T>
struct LabelMatrix {
  std::vector<T> storage;
  int64_t n, m, k, row_stride = 0, col_stride = 0, offset = 0;
  const T* at() const { return storage.data() + offset; }
  T& operator()(int64_t i, int64_t j) { return storage[offset + i * row_stride + j * col_stride]; }
};

template <class T>
LabelMatrix<T> random_labels(int64_t n, int64_t m, int64_t k, int layout) {
  LabelMatrix<T> L;
  L.n = n;
  L.m = m;
  L.k = k;
  const T gap = static_cast<T>(std::min<int64_t>(k + 5, 127));
  if (layout == 0) {
    L.storage.assign(n * m, gap), L.row_stride = m, L.col_stride = 1;
  } else if (layout == 1) {
    L.storage.assign(n * m, gap), L.row_stride = 1, L.col_stride = n;
  } else if (layout == 2) {
    L.storage.assign(2 * n * 3 * m, gap), L.row_stride = 6 * m, L.col_stride = 3;
  } else {
    L.storage.assign(n * m, gap), L.row_stride = -m, L.col_stride = 1, L.offset = std::max<int64_t>(0, n - 1) * m;
  }
  // Noisy sources over a true class; a few repeated rows so that some patterns count more
  // than once on the CPU.
  const double coverage = 0.05 + 0.6 * uni();
  for (int64_t i = 0; i < n; ++i) {
    if (i > 0 && uni() < 0.2) {
      const int64_t src = randint(0, i - 1);
      for (int64_t j = 0; j < m; ++j) L(i, j) = L(src, j);
      continue;
    }
    const int64_t truth = randint(0, k - 1);
    for (int64_t j = 0; j < m; ++j) {
      L(i, j) = static_cast<T>(uni() >= coverage ? -1 : uni() < 0.7 ? truth : randint(0, k - 1));
    }
  }
  return L;
}

// |got - want| <= tol * (scale + |want|) for every entry.
bool close(const std::vector<double>& got, const std::vector<double>& want, double tol, double scale = 1.0) {
  if (got.size() != want.size()) return false;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!(std::fabs(got[i] - want[i]) <= tol * (scale + std::fabs(want[i])))) return false;
  }
  return true;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  // memcmp only for non-empty vectors: an empty one's data() may be null (undefined for memcmp).
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

// The GPU kernels on one matrix, outputs first filled with garbage.
struct LabelModelRun {
  std::vector<double> vote_class, class_total, stats_ll, majority_votes, majority_total, marginal, hessian,
      marginal_ll, scores, posteriors;
  std::vector<int64_t> check;

  template <class T>
  LabelModelRun(const LabelMatrix<T>& L, const std::vector<double>& w, const std::vector<double>& b,
                const std::vector<double>& empty) {
    const int64_t n = L.n, m = L.m, k = L.k;
    vote_class.assign(m * (k + 1) * k, NAN);
    class_total.assign(k, NAN);
    stats_ll.assign(1, NAN);
    majority_votes.assign(m * (k + 1) * k, NAN);
    majority_total.assign(k, NAN);
    marginal.assign(k, NAN);
    hessian.assign(k * k, NAN);
    marginal_ll.assign(1, NAN);
    scores.assign(n * k, NAN);
    posteriors.assign(n * k, NAN);
    check.assign(3, -7);
    gpu::label_model_check(L.at(), n, m, L.row_stride, L.col_stride, k, check.data(), nullptr);
    gpu::label_model_statistics(L.at(), n, m, L.row_stride, L.col_stride, k, w.data(), b.data(), vote_class.data(),
                                class_total.data(), stats_ll.data(), nullptr);
    gpu::label_model_majority_statistics(L.at(), n, m, L.row_stride, L.col_stride, k, empty.data(),
                                         majority_votes.data(), majority_total.data(), nullptr);
    gpu::label_model_marginal(L.at(), n, m, L.row_stride, L.col_stride, k, w.data(), b.data(), marginal.data(),
                              hessian.data(), marginal_ll.data(), nullptr);
    gpu::label_model_scores(L.at(), n, m, L.row_stride, L.col_stride, k, w.data(), b.data(), false, scores.data(),
                            nullptr);
    gpu::label_model_scores(L.at(), n, m, L.row_stride, L.col_stride, k, w.data(), b.data(), true,
                            posteriors.data(), nullptr);
  }
  bool operator==(const LabelModelRun& o) const {
    return same_bits(vote_class, o.vote_class) && same_bits(class_total, o.class_total) &&
           same_bits(stats_ll, o.stats_ll) && same_bits(majority_votes, o.majority_votes) &&
           same_bits(majority_total, o.majority_total) && same_bits(marginal, o.marginal) &&
           same_bits(hessian, o.hessian) &&
           same_bits(marginal_ll, o.marginal_ll) && same_bits(scores, o.scores) &&
           same_bits(posteriors, o.posteriors) && check == o.check;
  }
};

// label_model_* against collapse_dense + em_statistics / majority_statistics /
// class_marginal / pattern_scores of cpp/label_model.cpp. Sums are taken in another order, so they match to rounding; but
// the GPU's must be the same bits on every run, and whether its tables and tiles sit in
// shared or in global memory.
template <class T>
void test_label_model(int iter) {
  static const int64_t ks[] = {2, 10, 3, 70, 5};
  const int64_t k = ks[iter % 5];
  const int64_t m = k == 70 ? randint(1, 8) : iter % 7 == 6 ? 0 : randint(1, 24);
  const int64_t n = iter % 11 == 10 ? randint(0, 3) : k == 70 ? randint(1, 700) : randint(1, 3000);
  const int layout = static_cast<int>(randint(0, 3));
  const LabelMatrix<T> L = random_labels<T>(n, m, k, layout);
  std::vector<double> w(m * (k + 1) * k), b(k), empty(k);
  for (auto& v : w) v = 4 * uni() - 2;
  for (auto& v : b) v = 2 * uni() - 1;
  for (auto& v : empty) v = uni();
  char what[160];
  std::snprintf(what, sizeof what, "label_model<int%d>: iter %d (n %lld, m %lld, k %lld, layout %d)",
                static_cast<int>(8 * sizeof(T)), iter, (long long)n, (long long)m, (long long)k, layout);

  const LabelModelRun gpu1(L, w, b, empty);
  const VotePatterns vp = collapse_dense(L.at(), n, m, L.row_stride, L.col_stride, k, 2);
  std::vector<double> vote_class(w.size()), class_total(k), marginal(k), hessian(k * k);
  std::vector<double> pattern(vp.patterns() * k), scores(n * k), posteriors(n * k);
  const double ll = em_statistics(vp, w.data(), b.data(), vote_class.data(), class_total.data(), 2);
  std::vector<double> majority_votes(w.size()), majority_total(k);
  majority_statistics(vp, empty.data(), majority_votes.data(), majority_total.data(), 2);
  const double mll = class_marginal(vp, w.data(), b.data(), marginal.data(), hessian.data(), 2);
  for (bool softmax : {false, true}) {
    pattern_scores(vp, w.data(), b.data(), softmax, pattern.data(), 2);
    std::vector<double>& rows = softmax ? posteriors : scores;
    for (int64_t i = 0; i < n; ++i) {
      std::copy_n(pattern.begin() + vp.row_pattern[i] * k, k, rows.begin() + i * k);
    }
  }
  const double tol = 1e-12, rows = static_cast<double>(n);
  EXPECT(gpu1.check == std::vector<int64_t>({-1, 0, 0}), "%s: check of valid labels", what);
  EXPECT(close(gpu1.vote_class, vote_class, tol), "%s: vote_class", what);
  EXPECT(close(gpu1.class_total, class_total, tol), "%s: class_total", what);
  EXPECT(close(gpu1.stats_ll, {ll}, tol, 1 + rows), "%s: statistics log-likelihood", what);
  EXPECT(close(gpu1.majority_votes, majority_votes, tol), "%s: majority vote_class", what);
  EXPECT(close(gpu1.majority_total, majority_total, tol), "%s: majority class_total", what);
  EXPECT(close(gpu1.marginal, marginal, tol), "%s: marginal", what);
  EXPECT(close(gpu1.hessian, hessian, tol), "%s: hessian", what);
  EXPECT(close(gpu1.marginal_ll, {mll}, tol, 1 + rows), "%s: marginal log-likelihood", what);
  EXPECT(close(gpu1.scores, scores, tol), "%s: scores", what);
  EXPECT(close(gpu1.posteriors, posteriors, tol), "%s: posteriors", what);
  for (int64_t c = 0; c < m * (k + 1) * k; c += (k + 1) * k) {  // abstain codes: exactly 0
    for (int64_t y = 0; y < k; ++y) {
      EXPECT(gpu1.vote_class[c + y] == 0.0 && gpu1.majority_votes[c + y] == 0.0, "%s: abstain code not 0", what);
    }
  }

  const int limit = emu_shared_limit;
  const LabelModelRun gpu2(L, w, b, empty);
  EXPECT(gpu1 == gpu2, "%s: two runs differ", what);
  // Everything in global memory; room for the tile (256 rows of k + 1) but not the table;
  // room for the tile, the totals and a quarter of the sources' votes (the statistics
  // split the sources into 4 groups); everything in shared memory.
  const int tile = static_cast<int>(sizeof(double) * 256 * (k + 1));
  const int quarter = tile + static_cast<int>(sizeof(double) * (k + 1) * (1 + (m + 3) / 4 * k));
  for (int other : {0, tile, quarter, 1 << 22}) {
    emu_shared_limit = other;
    const LabelModelRun gpu3(L, w, b, empty);
    EXPECT(gpu1 == gpu3, "%s: shared memory limit %d changes the results", what, other);
  }
  emu_shared_limit = limit;

  if (n * m > 0) {  // bad labels: the first in row-major order is reported, as the CPU does
    LabelMatrix<T> bad = L;
    const int count = static_cast<int>(randint(1, 3));
    for (int c = 0; c < count; ++c) {
      const int64_t value = uni() < 0.5 ? -2 - randint(0, 5) : k + randint(0, 20);
      bad(randint(0, n - 1), randint(0, m - 1)) = static_cast<T>(value);
    }
    int64_t want[3] = {-1, 0, 0};
    try {
      collapse_dense(bad.at(), n, m, bad.row_stride, bad.col_stride, k, 2);
    } catch (const BadLabel& e) {
      want[0] = e.row;
      want[1] = e.column;
      want[2] = e.value;
    }
    std::vector<int64_t> got(3, -7);
    gpu::label_model_check(bad.at(), n, m, bad.row_stride, bad.col_stride, k, got.data(), nullptr);
    EXPECT(want[0] >= 0 && std::equal(want, want + 3, got.begin()),
           "%s: check: (%lld, %lld, %lld), want (%lld, %lld, %lld)", what, (long long)got[0], (long long)got[1],
           (long long)got[2], (long long)want[0], (long long)want[1], (long long)want[2]);
  }
}

// DSRG's region growing: smooth random maps (regions of every size), sparse seeds that
// sometimes overlap, coarse probabilities (ties), image labels or none.
template <class T>
void test_region_growing(int iter) {
  int64_t h, w;
  random_shape(h, w);
  const int64_t batch = randint(1, 3), classes = randint(1, 6), plane = h * w;
  std::vector<T> probs(batch * classes * plane);
  std::vector<uint8_t> seeds(probs.size()), present(batch * classes);
  const double rate = uni() * 0.2;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t c = 0; c < classes; ++c) {
      const auto f = field(h, w, static_cast<int>(randint(0, 2)));
      for (int64_t i = 0; i < plane; ++i) {
        probs[(b * classes + c) * plane + i] = static_cast<T>(std::round(std::exp(4 * f[i]) * 4));
        seeds[(b * classes + c) * plane + i] = uni() < rate;
      }
      present[b * classes + c] = c == 0 || uni() < 0.6;
    }
    for (int64_t i = 0; i < plane; ++i) {  // normalize over classes
      T sum = 0;
      for (int64_t c = 0; c < classes; ++c) sum += probs[(b * classes + c) * plane + i];
      for (int64_t c = 0; c < classes; ++c) probs[(b * classes + c) * plane + i] /= sum;
    }
  }
  const double fg = uni(), bg = uni();
  const uint8_t* labels = uni() < 0.5 ? present.data() : nullptr;
  std::vector<uint8_t> cpu(probs.size()), gpu(probs.size(), 7);
  region_growing<T>(probs.data(), seeds.data(), labels, batch, classes, h, w, fg, bg, cpu.data(), 1);
  gpu::region_growing(probs.data(), sizeof(T) == 4 ? gpu::kFloat32 : gpu::kFloat64, seeds.data(), labels, batch,
                      classes, h, w, fg, bg, gpu.data(), nullptr);
  EXPECT(cpu == gpu, "region_growing: iter %d (%lldx%lldx%lldx%lld)", iter, (long long)batch, (long long)classes,
         (long long)h, (long long)w);
}

// LatticeBatch against KernelBatch: the GPU sums in another order (and keeps the
// vertices the CPU folds into self weights), so values agree to float rounding; the
// GPU's K^T is K's exact adjoint, and runs repeat bit for bit.
template <class T>
void test_lattice_filter(int iter) {
  int64_t h, w;
  random_shape(h, w);
  h = std::min<int64_t>(h, 24);
  w = std::min<int64_t>(w, 24);
  const std::vector<int64_t> spatial = {h, w};
  const int64_t points = h * w, batch = randint(1, 3);
  const int channels = static_cast<int>(randint(1, 3)), values = static_cast<int>(randint(1, 5));
  const bool bilateral = uni() < 0.7, transpose = uni() < 0.5;
  const int normalization = static_cast<int>(randint(0, 3));
  std::vector<float> images(batch * points * channels);
  for (int64_t b = 0; b < batch; ++b) {
    for (int c = 0; c < channels; ++c) {
      const auto f = field(h, w, static_cast<int>(randint(0, 2)));
      for (int64_t i = 0; i < points; ++i) images[(b * points + i) * channels + c] = static_cast<float>(f[i] * 255);
    }
  }
  std::vector<float> sigma = {static_cast<float>(0.5 + 30 * uni()), static_cast<float>(0.5 + 30 * uni())};
  std::vector<float> color_sigma;
  if (bilateral) {
    for (int c = 0; c < channels; ++c) color_sigma.push_back(static_cast<float>(3 + 20 * uni()));
  }
  const int d = 2 + (bilateral ? channels : 0);
  std::vector<float> features;
  for (int64_t b = 0; b < batch; ++b) {
    const auto f = image_features(spatial, sigma, bilateral ? &images[b * points * channels] : nullptr, channels,
                                  bilateral ? color_sigma.data() : nullptr);
    features.insert(features.end(), f.begin(), f.end());
  }
  std::vector<T> in(batch * points * values), other(in.size());
  for (auto& v : in) v = static_cast<T>(2 * uni() - 1);
  for (auto& v : other) v = static_cast<T>(2 * uni() - 1);
  const KernelBatch cpu_kernels(features.data(), batch, points, d, static_cast<Normalization>(normalization), 1);
  std::vector<T> cpu(in.size()), gpu1(in.size(), T(-7)), gpu2(in.size(), T(-7)), forward(in.size()),
      backward(in.size());
  cpu_kernels.filter(in.data(), cpu.data(), batch, values, transpose, 1);
  const gpu::LatticeBatch lattices(images.data(), batch, spatial, channels, sigma, color_sigma, normalization,
                                   nullptr);
  lattices.filter(in.data(), gpu1.data(), values, transpose);
  lattices.filter(in.data(), gpu2.data(), values, transpose);
  double worst = 0, top = 1e-30;
  for (size_t i = 0; i < cpu.size(); ++i) {
    worst = std::max(worst, std::fabs(double(cpu[i]) - double(gpu1[i])));
    top = std::max(top, std::fabs(double(cpu[i])));
  }
  // Float32 weights and norms on the GPU; the CPU's float64 path has float64 norms but
  // float32 self weights (Lattice::self_weights), so doubles agree to float rounding too.
  const double tol = 1e-4;
  EXPECT(worst <= tol * top, "lattice filter: max |GPU - CPU| = %g of %g, iter %d (%lldx%lld, batch %lld, "
         "%d channels, %d values, bilateral %d, normalization %d, transpose %d)", worst, top, iter, (long long)h,
         (long long)w, (long long)batch, channels, values, bilateral, normalization, transpose);
  EXPECT(std::memcmp(gpu1.data(), gpu2.data(), gpu1.size() * sizeof(T)) == 0, "lattice filter: runs differ");
  lattices.filter(in.data(), forward.data(), values, false);
  lattices.filter(other.data(), backward.data(), values, true);
  double a = 0, b = 0, scale = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    a += double(forward[i]) * double(other[i]);
    b += double(in[i]) * double(backward[i]);
    scale += std::fabs(double(forward[i]) * double(other[i]));
  }
  EXPECT(std::fabs(a - b) <= (sizeof(T) == 4 ? 1e-4 : 1e-12) * std::max(scale, 1e-30),
         "lattice filter: <K x, y> = %.17g but <x, K^T y> = %.17g, iter %d", a, b, iter);
}

// Empty images: nothing to label, every mask empty.
void test_empty() {
  for (int64_t h : {0, 3}) {
    const int64_t w = h ? 0 : 5, batch = 2;
    std::vector<int64_t> counts(batch, -1);
    gpu::label(nullptr, nullptr, counts.data(), batch, h, w, 8, nullptr);
    EXPECT(counts == std::vector<int64_t>(batch, 0), "empty: label");
    const std::vector<int64_t> offsets = {0, 0, 0};
    gpu::component_stats(nullptr, batch, h, w, offsets.data(), nullptr, nullptr, nullptr, nullptr);
    std::vector<int64_t> boxes(4 * batch, 5);
    gpu::cam_to_boxes(nullptr, gpu::kFloat32, batch, h, w, 0.5, 2, 4, boxes.data(), nullptr);
    EXPECT(boxes == std::vector<int64_t>(4 * batch, -1), "empty: cam_boxes");
    gpu::quantize_scoremaps(nullptr, gpu::kFloat64, batch, 0, true, nullptr, nullptr);
    gpu::region_growing(nullptr, gpu::kFloat32, nullptr, nullptr, batch, 3, h, w, 0.5, 0.5, nullptr, nullptr);
    const std::vector<int64_t> gt = {0, 0, 0, 0, 0, 0, 3, 3}, gt_offsets = {0, 1, 2};
    compare_box_correct("empty", 0, {}, batch, h, w, {0.0, 0.5, -3.0}, gt, gt_offsets, {50, 0});
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 200;
  if (argc > 2) emu_threads = std::atoi(argv[2]);
  test_empty();
  for (int i = 0; i < iterations; ++i) {
    test_label(i);
    test_cam<float>(i);
    test_cam<double>(i);
    test_quantize<float>(i);
    test_quantize<double>(i);
    test_box_correct(i);
    test_levels_below_minus_one(i);
    test_v1_boxes(i);
    test_dense_crf(i);
    test_region_growing<float>(i);
    test_region_growing<double>(i);
    // Lattice builds are the emulator's slowest check (slower still under ASan): one
    // iteration in four, float and double in turn.
    if (i % 4 == 0) test_lattice_filter<float>(i);
    else if (i % 4 == 2) test_lattice_filter<double>(i);
    if (i % 2 == 0) test_label_model<int8_t>(i / 2);
    else if (i % 4 == 1) test_label_model<int32_t>(i / 2);
    else if (i % 8 == 3) test_label_model<int16_t>(i / 2);
    else test_label_model<int64_t>(i / 2);
  }
  EXPECT(emu_live.empty(), "%zu device buffers leaked", emu_live.size());
  std::printf("emulated CUDA == CPU: %lld checks, %lld failures (%lld launches)\n", (long long)checks,
              (long long)failures, (long long)emu_launches);
  return failures == 0 ? 0 : 1;
}
