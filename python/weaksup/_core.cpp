// Bindings for the C++ kernels: convert arrays, release the GIL, call. Validation and
// dispatch live in Python; arrays arrive with the right dtype, C-contiguous.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <limits>
#include <memory>
#include <optional>

#include "cam_boxes.hpp"
#include "components.hpp"
#include "dense_crf.hpp"
#include "label_model.hpp"
#include "lattice_filter.hpp"
#include "mean_field_grad.hpp"
#include "parallel.hpp"
#include "rank_pooling.hpp"
#include "region_growing.hpp"
#include "simd.hpp"
#include "wsol.hpp"

namespace py = pybind11;
using namespace weaksup;

template <class T>
using carray = py::array_t<T, py::array::c_style>;

namespace {

// `wide` forces int64 labels (they are int64 anyway from 2^31 pixels per volume on).
py::tuple label(const carray<uint8_t>& mask, int connectivity, bool want_labels, bool want_stats, int threads,
                bool wide) {
  if (mask.ndim() != 4) throw std::invalid_argument("internal: mask must be (batch, depth, height, width)");
  const int64_t batch = mask.shape(0);
  const VolumeShape shape{mask.shape(1), mask.shape(2), mask.shape(3)};
  wide = wide || shape.size() > std::numeric_limits<int32_t>::max();
  py::object labels = py::none();
  int32_t* l32 = nullptr;
  int64_t* l64 = nullptr;
  if (want_labels) {
    std::vector<py::ssize_t> dims{batch, shape.depth, shape.height, shape.width};
    if (wide) {
      carray<int64_t> a(dims);
      l64 = a.mutable_data();
      labels = a;
    } else {
      carray<int32_t> a(dims);
      l32 = a.mutable_data();
      labels = a;
    }
  }
  carray<int64_t> counts(batch);
  std::vector<ComponentStats> stats;
  {
    py::gil_scoped_release release;
    label_volumes(mask.data(), batch, shape, connectivity, l32, l64, counts.mutable_data(),
                  want_stats ? &stats : nullptr, threads);
  }
  if (!want_stats) return py::make_tuple(labels, counts);
  int64_t total = 0;
  for (const auto& s : stats) total += static_cast<int64_t>(s.area.size());
  carray<int64_t> area(total), image(total);
  carray<int64_t> box({total, int64_t{6}});
  carray<double> centroid({total, int64_t{3}});
  int64_t at = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const ComponentStats& s = stats[b];
    const int64_t k = static_cast<int64_t>(s.area.size());
    std::copy(s.area.begin(), s.area.end(), area.mutable_data() + at);
    std::fill(image.mutable_data() + at, image.mutable_data() + at + k, b);
    std::copy(s.box.begin(), s.box.end(), box.mutable_data() + 6 * at);
    std::copy(s.centroid.begin(), s.centroid.end(), centroid.mutable_data() + 3 * at);
    at += k;
  }
  return py::make_tuple(labels, counts, area, box, centroid, image);
}

template <class T>
carray<int64_t> cam_to_boxes(const carray<T>& cams, double threshold, int normalization, int connectivity,
                             int threads) {
  const int64_t batch = cams.shape(0), height = cams.shape(1), width = cams.shape(2);
  carray<int64_t> boxes({batch, int64_t{4}});
  py::gil_scoped_release release;
  cam_boxes<T>(cams.data(), batch, height, width, threshold, static_cast<CamNormalization>(normalization),
               connectivity, boxes.mutable_data(), threads);
  return boxes;
}

template <class T>
carray<uint8_t> quantize(const carray<T>& maps, bool normalize, int threads) {
  carray<uint8_t> out(std::vector<py::ssize_t>(maps.shape(), maps.shape() + maps.ndim()));
  const int64_t batch = maps.shape(0), pixels = maps.size() / std::max<int64_t>(1, batch);
  py::gil_scoped_release release;
  quantize_scoremaps<T>(maps.data(), batch, pixels, normalize, out.mutable_data(), threads);
  return out;
}

template <class T>
carray<double> normalize(const carray<T>& maps, int threads) {
  carray<double> out(std::vector<py::ssize_t>(maps.shape(), maps.shape() + maps.ndim()));
  const int64_t batch = maps.shape(0), pixels = maps.size() / std::max<int64_t>(1, batch);
  py::gil_scoped_release release;
  normalize_scoremaps<T>(maps.data(), batch, pixels, out.mutable_data(), threads);
  return out;
}

carray<int64_t> as_array(const std::vector<Box>& boxes) {
  carray<int64_t> out({static_cast<int64_t>(boxes.size()), int64_t{4}});
  for (size_t i = 0; i < boxes.size(); ++i) {
    int64_t* o = out.mutable_data() + 4 * i;
    o[0] = boxes[i].x0;
    o[1] = boxes[i].y0;
    o[2] = boxes[i].x1;
    o[3] = boxes[i].y1;
  }
  return out;
}

py::tuple contours(const carray<uint8_t>& quantized, int64_t level) {
  Box largest{};
  std::vector<Box> all;
  {
    py::gil_scoped_release release;
    contour_boxes(quantized.data(), quantized.shape(0), quantized.shape(1), level, &largest, &all);
  }
  return py::make_tuple(as_array({largest}), as_array(all));
}

py::tuple box_correctness(const carray<uint8_t>& quantized, const carray<double>& thresholds,
                          const carray<int64_t>& gt_boxes, const carray<int64_t>& gt_offsets,
                          const carray<double>& iou_thresholds, bool multi_contour, bool want_boxes, int threads) {
  const int64_t batch = quantized.shape(0), height = quantized.shape(1), width = quantized.shape(2);
  const int64_t n_t = thresholds.size(), n_iou = iou_thresholds.size();
  carray<uint8_t> correct({batch, n_iou, n_t});
  py::object boxes = py::none();
  int64_t* boxes_ptr = nullptr;
  if (want_boxes) {
    carray<int64_t> b({batch, n_t, int64_t{4}});
    boxes_ptr = b.mutable_data();
    boxes = b;
  }
  {
    py::gil_scoped_release release;
    box_correct(quantized.data(), batch, height, width, thresholds.data(), n_t, gt_boxes.data(), gt_offsets.data(),
                iou_thresholds.data(), n_iou, multi_contour, correct.mutable_data(), boxes_ptr, threads);
  }
  return py::make_tuple(correct, boxes);
}

template <class T>
carray<uint8_t> box_correctness_of_maps(const carray<T>& maps, bool normalize, const carray<double>& thresholds,
                                        const carray<int64_t>& gt_boxes, const carray<int64_t>& gt_offsets,
                                        const carray<double>& iou_thresholds, bool multi_contour, int threads) {
  const int64_t batch = maps.shape(0), height = maps.shape(1), width = maps.shape(2);
  const int64_t n_t = thresholds.size(), n_iou = iou_thresholds.size();
  carray<uint8_t> correct({batch, n_iou, n_t});
  py::gil_scoped_release release;
  box_correct_maps<T>(maps.data(), normalize, batch, height, width, thresholds.data(), n_t, gt_boxes.data(),
                      gt_offsets.data(), iou_thresholds.data(), n_iou, multi_contour, correct.mutable_data(), nullptr,
                      threads);
  return correct;
}

py::tuple pxap(const carray<double>& scores, const carray<uint8_t>& masks, const carray<double>& edges, int threads) {
  const int64_t batch = scores.shape(0), pixels = scores.size() / std::max<int64_t>(1, batch);
  const int64_t bins = edges.size() - 1;
  carray<int64_t> true_hist(bins), false_hist(bins);
  {
    py::gil_scoped_release release;
    pxap_histograms(scores.data(), masks.data(), batch, pixels, edges.data(), edges.size(), true_hist.mutable_data(),
                    false_hist.mutable_data(), threads);
  }
  return py::make_tuple(true_hist, false_hist);
}

// ------------------------------------------------------------------ dense CRF

// Pairwise terms arrive as (kernel, compat kind, float32 compat values) tuples.
std::vector<PairwiseTerm> pairwise_terms(const py::list& terms, int labels) {
  std::vector<PairwiseTerm> out;
  for (const py::handle& t : terms) {
    auto tuple = t.cast<py::tuple>();
    const auto values = tuple[2].cast<carray<float>>();
    out.push_back({tuple[0].cast<const PairwiseKernel*>(),
                   Compatibility::make(tuple[1].cast<int>(), values.data(), labels)});
  }
  return out;
}

std::unique_ptr<PairwiseKernel> make_kernel(const carray<float>& features, int normalization, int threads) {
  const int64_t n = features.shape(0);
  const int d = static_cast<int>(features.shape(1));
  py::gil_scoped_release release;
  return std::make_unique<PairwiseKernel>(features.data(), n, d, static_cast<Normalization>(normalization), threads);
}

carray<float> kernel_filter(const PairwiseKernel& kernel, const carray<float>& values, int threads) {
  const int64_t n = values.shape(0), c = values.shape(1), stride = padded(c);
  carray<float> out({n, c});
  const float* in = values.data();
  float* o = out.mutable_data();
  py::gil_scoped_release release;
  std::vector<float> rows(static_cast<size_t>(n * stride), 0.0f);  // the kernel's padded layout
  for (int64_t i = 0; i < n; ++i) std::copy(in + i * c, in + (i + 1) * c, rows.begin() + i * stride);
  std::vector<float> scratch;
  kernel.filter(rows.data(), rows.data(), static_cast<int>(c), threads, scratch);
  for (int64_t i = 0; i < n; ++i) std::copy(rows.begin() + i * stride, rows.begin() + i * stride + c, o + i * c);
  return out;
}

carray<float> crf_mean_field(const carray<float>& unary, const py::list& terms, int iterations, int threads) {
  const int64_t n = unary.shape(0);
  const int labels = static_cast<int>(unary.shape(1));
  const auto pairwise = pairwise_terms(terms, labels);
  carray<float> q({n, static_cast<int64_t>(labels)});
  py::gil_scoped_release release;
  mean_field(Unary{unary.data()}, n, labels, pairwise, iterations, q.mutable_data(), threads);
  return q;
}

carray<float> crf_start(const carray<float>& unary, int threads) {
  carray<float> q({unary.shape(0), unary.shape(1)});
  py::gil_scoped_release release;
  mean_field_start(unary.data(), unary.shape(0), static_cast<int>(unary.shape(1)), q.mutable_data(), threads);
  return q;
}

void crf_step(const carray<float>& unary, carray<float>& q, const py::list& terms, int threads) {
  const int labels = static_cast<int>(unary.shape(1));
  const auto pairwise = pairwise_terms(terms, labels);
  float* out = q.mutable_data();
  py::gil_scoped_release release;
  mean_field_step(unary.data(), unary.shape(0), labels, pairwise, out, threads);
}

double crf_kl(const carray<float>& unary, const carray<float>& q, const py::list& terms, int threads) {
  const int labels = static_cast<int>(unary.shape(1));
  const auto pairwise = pairwise_terms(terms, labels);
  py::gil_scoped_release release;
  return kl_divergence(unary.data(), unary.shape(0), labels, pairwise, q.data(), threads);
}

// images (B, P, C), unary (B, P, L) or (B, *spatial, L) in any strides (read in place);
// a term is None or (sigmas, colour sigmas or None, compat kind, compat values), sigmas
// fastest axis first. `unary` holds probabilities (turned into energies with `clip`)
// when `probabilities`.
py::object crf_images(const carray<float>& images, const std::vector<int64_t>& spatial,
                         const py::array_t<float>& unary, bool probabilities, float clip, const py::object& gaussian,
                         const py::object& bilateral, int normalization, int iterations, int threads,
                         bool want_history) {
  const int64_t batch = images.shape(0);
  const int nd = static_cast<int>(unary.ndim());
  if (nd < 3 || nd > 5 || unary.shape(0) != batch) throw std::invalid_argument("internal: unary must be (B, ..., L)");
  const int channels = static_cast<int>(images.shape(2)), labels = static_cast<int>(unary.shape(nd - 1));
  Unary in{unary.data(), probabilities, clip};
  in.axes = nd - 2;
  int64_t points = 1;
  for (int a = 0; a < in.axes; ++a) {
    in.extent[a] = unary.shape(1 + a);
    in.stride[a] = unary.strides(1 + a) / static_cast<int64_t>(sizeof(float));
    points *= in.extent[a];
  }
  in.label_stride = unary.strides(nd - 1) / static_cast<int64_t>(sizeof(float));
  const int64_t batch_stride = unary.strides(0) / static_cast<int64_t>(sizeof(float));
  if (points != images.shape(1)) throw std::invalid_argument("internal: unary and images differ in point count");
  ImageCrfParams params;
  params.normalization = static_cast<Normalization>(normalization);
  params.iterations = iterations;
  params.gaussian = !gaussian.is_none();
  params.bilateral = !bilateral.is_none();
  if (params.gaussian) {
    auto t = gaussian.cast<py::tuple>();
    params.gaussian_sigma = t[0].cast<std::vector<float>>();
    const auto values = t[3].cast<carray<float>>();
    params.gaussian_compat = Compatibility::make(t[2].cast<int>(), values.data(), labels);
  }
  if (params.bilateral) {
    auto t = bilateral.cast<py::tuple>();
    params.bilateral_sigma = t[0].cast<std::vector<float>>();
    params.color_sigma = t[1].cast<std::vector<float>>();
    const auto values = t[3].cast<carray<float>>();
    params.bilateral_compat = Compatibility::make(t[2].cast<int>(), values.data(), labels);
  }
  carray<float> q({batch, points, static_cast<int64_t>(labels)});
  float* out = q.mutable_data();
  // With want_history, also the q each iteration starts from: (B, iterations, P, L).
  carray<float> history(want_history ? std::vector<int64_t>{batch, iterations, points, labels}
                                     : std::vector<int64_t>{0});
  float* h = want_history ? history.mutable_data() : nullptr;
  {
    py::gil_scoped_release release;
    dense_crf_images(images.data(), batch, spatial, channels, in, batch_stride, labels, params, out, threads, h);
  }
  if (want_history) return py::make_tuple(q, history);
  return q;
}

carray<float> features_of_image(const std::vector<int64_t>& spatial, const std::vector<float>& sigma,
                                const std::optional<carray<float>>& image, const std::vector<float>& color_sigma) {
  int64_t points = 1;
  for (int64_t v : spatial) points *= v;
  const int channels = image ? static_cast<int>(image->shape(1)) : 0;
  if (image && (image->shape(0) != points || color_sigma.size() != static_cast<size_t>(channels))) {
    throw std::invalid_argument("internal: image must be (points, channels) with one colour sigma per channel");
  }
  const int d = static_cast<int>(spatial.size()) + channels;
  carray<float> out({points, static_cast<int64_t>(d)});
  std::vector<float> f = image_features(spatial, sigma, image ? image->data() : nullptr, channels, color_sigma.data());
  std::copy(f.begin(), f.end(), out.mutable_data());
  return out;
}

std::unique_ptr<KernelBatch> make_kernel_batch(const carray<float>& features, int normalization, int threads) {
  if (features.ndim() != 3) throw std::invalid_argument("internal: features must be (kernels, n, d)");
  py::gil_scoped_release release;
  return std::make_unique<KernelBatch>(features.data(), features.shape(0), features.shape(1),
                                       static_cast<int>(features.shape(2)), static_cast<Normalization>(normalization),
                                       threads);
}

// images (N, P, C) float32 -> one kernel per image (KernelBatch::of_images).
std::unique_ptr<KernelBatch> kernel_batch_of_images(const carray<float>& images, const std::vector<int64_t>& spatial,
                                                    const std::vector<float>& sigma,
                                                    const std::vector<float>& color_sigma, int normalization,
                                                    int threads) {
  if (images.ndim() != 3) throw std::invalid_argument("internal: images must be (N, P, C)");
  int64_t points = 1;
  for (int64_t s : spatial) points *= s;
  if (points != images.shape(1) || sigma.size() != spatial.size() ||
      (!color_sigma.empty() && color_sigma.size() != static_cast<size_t>(images.shape(2)))) {
    throw std::invalid_argument("internal: images, spatial and sigmas disagree");
  }
  py::gil_scoped_release release;
  return std::make_unique<KernelBatch>(KernelBatch::of_images(images.data(), images.shape(0), spatial,
                                                              static_cast<int>(images.shape(2)), sigma, color_sigma,
                                                              static_cast<Normalization>(normalization), threads));
}

// Mean-field over a batch with the kernels of KernelBatches (built once, shared with the
// backward): unary energies (B, P, L); terms (KernelBatch, compat kind, float32 values).
// Returns (q (B, P, L), history (B, iterations, P, L): the q each update starts from).
py::tuple batch_mean_field(const carray<float>& unary, const py::list& terms, int iterations, int threads) {
  const int64_t batch = unary.shape(0), points = unary.shape(1);
  const int labels = static_cast<int>(unary.shape(2));
  std::vector<std::pair<const KernelBatch*, Compatibility>> specs;
  for (const py::handle& t : terms) {
    auto tuple = t.cast<py::tuple>();
    const auto values = tuple[2].cast<carray<float>>();
    const auto* kernels = tuple[0].cast<const KernelBatch*>();
    if (kernels->points() != points || (kernels->kernels() != 1 && kernels->kernels() != batch)) {
      throw std::invalid_argument("internal: the kernels do not fit the unary's batch and points");
    }
    specs.emplace_back(kernels, Compatibility::make(tuple[1].cast<int>(), values.data(), labels));
  }
  carray<float> q({batch, points, static_cast<int64_t>(labels)});
  carray<float> history({batch, static_cast<int64_t>(iterations), points, static_cast<int64_t>(labels)});
  float* out = q.mutable_data();
  float* h = history.mutable_data();
  const float* u = unary.data();
  {
    py::gil_scoped_release release;
    // As dense_crf_images: enough images, one per thread; few, one at a time on every thread.
    const int all = resolve_threads(threads, std::numeric_limits<int64_t>::max());
    const bool across = batch > 1 && batch >= all;
    parallel_for(batch, across ? all : 1, [&](int, int64_t b) {
      std::vector<PairwiseTerm> pairwise;
      for (const auto& [kernels, compat] : specs) pairwise.push_back({&kernels->kernel(b), compat});
      const int64_t size = points * labels;
      mean_field(Unary{u + b * size}, points, labels, pairwise, iterations, out + b * size, across ? 1 : all,
                 h + b * iterations * size);
    });
  }
  return py::make_tuple(q, history);
}

// history (B, T, P, L), q and grad (B, P, L); terms (KernelBatch, compat kind, compat values
// (symmetric for a matrix), whether its gradient is wanted) -> (grad_unary, [compat grad or None]).
template <class T>
py::tuple mean_field_grad(const carray<T>& history, const carray<T>& q, const carray<T>& grad, const py::list& terms,
                          int threads) {
  const int64_t batch = q.shape(0), points = q.shape(1);
  const int labels = static_cast<int>(q.shape(2)), iterations = static_cast<int>(history.shape(1));
  if (history.ndim() != 4 || history.shape(0) != batch || history.shape(2) != points || history.shape(3) != labels ||
      grad.ndim() != 3 || grad.shape(0) != batch || grad.shape(1) != points || grad.shape(2) != labels) {
    throw std::invalid_argument("internal: history (B, T, P, L), q and grad (B, P, L)");
  }
  std::vector<MeanFieldGradTerm<T>> specs;
  std::vector<carray<T>> values;  // kept alive while the kernel runs
  py::list compat_grads;
  for (const py::handle& t : terms) {
    auto tuple = t.cast<py::tuple>();
    values.push_back(tuple[2].cast<carray<T>>());
    const auto* kernels = tuple[0].cast<const KernelBatch*>();
    if (kernels->points() != points || (kernels->kernels() != 1 && kernels->kernels() != batch)) {
      throw std::invalid_argument("internal: the kernels do not fit the batch and points");
    }
    T* cg = nullptr;
    if (tuple[3].cast<bool>()) {
      carray<T> g(values.back().request().shape);
      std::fill(g.mutable_data(), g.mutable_data() + g.size(), T(0));
      cg = g.mutable_data();
      compat_grads.append(g);
    } else {
      compat_grads.append(py::none());
    }
    specs.push_back({kernels, tuple[1].cast<int>(), values.back().data(), cg});
  }
  carray<T> grad_unary({batch, points, static_cast<int64_t>(labels)});
  T* gu = grad_unary.mutable_data();
  {
    py::gil_scoped_release release;
    mean_field_backward(history.data(), q.data(), grad.data(), batch, iterations, points, labels, specs, gu, threads);
  }
  return py::make_tuple(grad_unary, compat_grads);
}

// values (B, n, C) float32 / float64 -> the same shape and dtype.
template <class T>
carray<T> batch_filter(const KernelBatch& kernels, const carray<T>& values, bool transpose, int threads) {
  if (values.ndim() != 3 || values.shape(1) != kernels.points() ||
      (kernels.kernels() != 1 && values.shape(0) != kernels.kernels())) {
    throw std::invalid_argument("internal: values must be (batch, points, channels) of the kernels' batch");
  }
  carray<T> out({values.shape(0), values.shape(1), values.shape(2)});
  T* o = out.mutable_data();
  py::gil_scoped_release release;
  kernels.filter(values.data(), o, values.shape(0), static_cast<int>(values.shape(2)), transpose, threads);
  return out;
}

// DSRG's region growing: probs (B, C, H, W), seeds uint8 (B, C, H, W) 0/1, present uint8
// (B, C) or None -> (grown seeds uint8 (B, C, H, W), (low, high, gap, finite) of probs,
// whether the seeds were all 0 / 1).
template <class T>
py::tuple grow_regions(const carray<T>& probs, const carray<uint8_t>& seeds,
                             const std::optional<carray<uint8_t>>& present, double fg_threshold,
                             double bg_threshold, int threads) {
  if (probs.ndim() != 4 || seeds.ndim() != 4) throw std::invalid_argument("internal: probs and seeds must be 4-D");
  for (int k = 0; k < 4; ++k) {
    if (probs.shape(k) != seeds.shape(k)) throw std::invalid_argument("internal: probs and seeds differ in shape");
  }
  const int64_t batch = probs.shape(0), classes = probs.shape(1);
  if (present && (present->ndim() != 2 || present->shape(0) != batch || present->shape(1) != classes)) {
    throw std::invalid_argument("internal: present must be (B, C)");
  }
  carray<uint8_t> out({batch, classes, static_cast<int64_t>(probs.shape(2)), static_cast<int64_t>(probs.shape(3))});
  const uint8_t* p = present ? present->data() : nullptr;
  InputSummary seen;
  {
    py::gil_scoped_release release;
    seen = region_growing<T>(probs.data(), seeds.data(), p, batch, classes, probs.shape(2), probs.shape(3),
                             fg_threshold, bg_threshold, out.mutable_data(), threads);
  }
  return py::make_tuple(out, py::make_tuple(seen.low, seen.high, seen.gap, seen.finite), seen.binary_seeds);
}

// Label models. A BadLabel becomes a ValueError naming L[row, column]; Python adds the fix.
template <class T>
VotePatterns collapse_matrix(const py::array_t<T>& labels, int64_t classes, int threads) {
  if (labels.ndim() != 2) throw std::invalid_argument("internal: labels must be (n, m)");
  const int64_t item = static_cast<int64_t>(sizeof(T));
  const int64_t rows = labels.shape(0), sources = labels.shape(1);
  const int64_t row_stride = labels.strides(0) / item, column_stride = labels.strides(1) / item;
  try {
    py::gil_scoped_release release;
    return collapse_dense<T>(labels.data(), rows, sources, row_stride, column_stride, classes, threads);
  } catch (const BadLabel& e) {
    throw py::value_error("L[" + std::to_string(e.row) + ", " + std::to_string(e.column) +
                          "] = " + std::to_string(e.value));
  }
}

VotePatterns collapse_vote_lists(const carray<int64_t>& row_offsets, const carray<int32_t>& codes, int64_t sources,
                                 int64_t classes, int threads) {
  const int64_t rows = row_offsets.shape(0) - 1;
  py::gil_scoped_release release;
  return collapse_codes(row_offsets.data(), codes.data(), rows, sources, classes, threads);
}

// A NumPy view of a VotePatterns vector, kept alive by the Python object that owns it.
template <class T>
py::array_t<T> view(const std::vector<T>& data, const py::object& owner) {
  return py::array_t<T>({static_cast<py::ssize_t>(data.size())}, {static_cast<py::ssize_t>(sizeof(T))}, data.data(),
                        owner);
}

void check_weights(const VotePatterns& vp, const carray<double>& weights, const carray<double>& bias) {
  const int64_t k = vp.classes;
  if (weights.ndim() != 2 || weights.shape(0) != vp.sources * (k + 1) || weights.shape(1) != k || bias.ndim() != 1 ||
      bias.shape(0) != k)
    throw std::invalid_argument("internal: weights must be (m * (k + 1), k) and bias (k,)");
}

carray<double> scores_of_patterns(const VotePatterns& vp, const carray<double>& weights, const carray<double>& bias,
                                  bool softmax, int threads) {
  check_weights(vp, weights, bias);
  carray<double> out({vp.patterns(), vp.classes});
  double* o = out.mutable_data();
  py::gil_scoped_release release;
  pattern_scores(vp, weights.data(), bias.data(), softmax, o, threads);
  return out;
}

py::tuple em_step(const VotePatterns& vp, const carray<double>& weights, const carray<double>& bias, int threads) {
  check_weights(vp, weights, bias);
  carray<double> vote_class({vp.sources * (vp.classes + 1), vp.classes});
  carray<double> class_total(vp.classes);
  double* vc = vote_class.mutable_data();
  double* ct = class_total.mutable_data();
  double log_likelihood;
  {
    py::gil_scoped_release release;
    log_likelihood = em_statistics(vp, weights.data(), bias.data(), vc, ct, threads);
  }
  return py::make_tuple(vote_class, class_total, log_likelihood);
}

carray<double> statistics_of_rules(const VotePatterns& vp, const carray<double>& weights, const carray<double>& bias,
                                   const py::array_t<uint8_t, py::array::c_style>& rules, int threads) {
  check_weights(vp, weights, bias);
  if (rules.ndim() != 1 || rules.shape(0) != vp.sources) throw std::invalid_argument("internal: rules must be (m,)");
  carray<double> vote_class({vp.sources * (vp.classes + 1), vp.classes});
  double* vc = vote_class.mutable_data();
  py::gil_scoped_release release;
  rule_statistics(vp, weights.data(), bias.data(), rules.data(), vc, threads);
  return vote_class;
}

py::tuple statistics_of_majority(const VotePatterns& vp, const carray<double>& empty, int threads) {
  if (empty.ndim() != 1 || empty.shape(0) != vp.classes) throw std::invalid_argument("internal: empty must be (k,)");
  carray<double> vote_class({vp.sources * (vp.classes + 1), vp.classes});
  carray<double> class_total(vp.classes);
  double* vc = vote_class.mutable_data();
  double* ct = class_total.mutable_data();
  {
    py::gil_scoped_release release;
    majority_statistics(vp, empty.data(), vc, ct, threads);
  }
  return py::make_tuple(vote_class, class_total);
}

py::tuple marginal_of_classes(const VotePatterns& vp, const carray<double>& weights, const carray<double>& bias,
                              int threads) {
  check_weights(vp, weights, bias);
  carray<double> marginal(vp.classes);
  carray<double> hessian({vp.classes, vp.classes});
  double* mg = marginal.mutable_data();
  double* h = hessian.mutable_data();
  double log_likelihood;
  {
    py::gil_scoped_release release;
    log_likelihood = class_marginal(vp, weights.data(), bias.data(), mg, h, threads);
  }
  return py::make_tuple(marginal, hessian, log_likelihood);
}

// values (rows, n) and one decay per row -> (G (rows,), order (rows, n)).
template <class T>
py::tuple rank_pool(const carray<T>& values, const carray<double>& q, int threads) {
  if (values.ndim() != 2 || q.ndim() != 1 || q.shape(0) != values.shape(0))
    throw std::invalid_argument("internal: rank_pool needs values (rows, n) and q (rows,)");
  const int64_t rows = values.shape(0), n = values.shape(1);
  carray<T> out(rows);
  carray<int64_t> order({rows, n});
  {
    py::gil_scoped_release release;
    rank_pool_forward<T>(values.data(), rows, n, q.data(), out.mutable_data(), order.mutable_data(), threads);
  }
  return py::make_tuple(out, order);
}

template <class T>
carray<T> rank_pool_grad(const carray<T>& grad, const carray<int64_t>& order, const carray<double>& q, int threads) {
  if (order.ndim() != 2 || grad.ndim() != 1 || q.ndim() != 1 || grad.shape(0) != order.shape(0) ||
      q.shape(0) != order.shape(0))
    throw std::invalid_argument("internal: rank_pool_grad needs grad (rows,), order (rows, n) and q (rows,)");
  const int64_t rows = order.shape(0), n = order.shape(1);
  carray<T> out({rows, n});
  {
    py::gil_scoped_release release;
    rank_pool_backward<T>(grad.data(), order.data(), rows, n, q.data(), out.mutable_data(), threads);
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "weaksup C++ kernels (private; use the weaksup package)";
  m.def("label", &label, py::arg("mask").noconvert(), py::arg("connectivity"), py::arg("want_labels"),
        py::arg("want_stats"), py::arg("threads"), py::arg("wide") = false);
  m.def("region_growing", &grow_regions<float>, py::arg("probs").noconvert(), py::arg("seeds").noconvert(),
        py::arg("present").noconvert(), py::arg("fg_threshold"), py::arg("bg_threshold"), py::arg("threads"));
  m.def("region_growing", &grow_regions<double>, py::arg("probs").noconvert(), py::arg("seeds").noconvert(),
        py::arg("present").noconvert(), py::arg("fg_threshold"), py::arg("bg_threshold"), py::arg("threads"));
  m.def("cam_to_boxes", &cam_to_boxes<float>, py::arg("cams").noconvert(), py::arg("threshold"),
        py::arg("normalization"), py::arg("connectivity"), py::arg("threads"));
  m.def("cam_to_boxes", &cam_to_boxes<double>, py::arg("cams").noconvert(), py::arg("threshold"),
        py::arg("normalization"), py::arg("connectivity"), py::arg("threads"));
  m.def("quantize_scoremaps", &quantize<float>, py::arg("maps").noconvert(), py::arg("normalize"), py::arg("threads"));
  m.def("quantize_scoremaps", &quantize<double>, py::arg("maps").noconvert(), py::arg("normalize"),
        py::arg("threads"));
  m.def("normalize_scoremaps", &normalize<float>, py::arg("maps").noconvert(), py::arg("threads"));
  m.def("normalize_scoremaps", &normalize<double>, py::arg("maps").noconvert(), py::arg("threads"));
  m.def("contour_boxes", &contours, py::arg("quantized").noconvert(), py::arg("level"));
  m.def("box_correct", &box_correctness, py::arg("quantized").noconvert(), py::arg("thresholds").noconvert(),
        py::arg("gt_boxes").noconvert(), py::arg("gt_offsets").noconvert(), py::arg("iou_thresholds").noconvert(),
        py::arg("multi_contour"), py::arg("want_boxes"), py::arg("threads"));
  m.def("box_correct_maps", &box_correctness_of_maps<float>, py::arg("maps").noconvert(), py::arg("normalize"),
        py::arg("thresholds").noconvert(), py::arg("gt_boxes").noconvert(), py::arg("gt_offsets").noconvert(),
        py::arg("iou_thresholds").noconvert(), py::arg("multi_contour"), py::arg("threads"));
  m.def("box_correct_maps", &box_correctness_of_maps<double>, py::arg("maps").noconvert(), py::arg("normalize"),
        py::arg("thresholds").noconvert(), py::arg("gt_boxes").noconvert(), py::arg("gt_offsets").noconvert(),
        py::arg("iou_thresholds").noconvert(), py::arg("multi_contour"), py::arg("threads"));
  m.def("pxap_histograms", &pxap, py::arg("scores").noconvert(), py::arg("masks").noconvert(),
        py::arg("edges").noconvert(), py::arg("threads"));
  m.def("max_feature", &Lattice::max_feature, py::arg("dims"));
  py::class_<PairwiseKernel>(m, "PairwiseKernel")
      .def(py::init(&make_kernel), py::arg("features").noconvert(), py::arg("normalization"), py::arg("threads"))
      .def_property_readonly("points", &PairwiseKernel::points)
      .def_property_readonly("dims", [](const PairwiseKernel& k) { return k.lattice().dims(); })
      .def_property_readonly("vertices", [](const PairwiseKernel& k) { return k.lattice().vertices(); })
      .def("filter", &kernel_filter, py::arg("values").noconvert(), py::arg("threads"));
  m.def("mean_field", &crf_mean_field, py::arg("unary").noconvert(), py::arg("terms"), py::arg("iterations"),
        py::arg("threads"));
  m.def("mean_field_start", &crf_start, py::arg("unary").noconvert(), py::arg("threads"));
  m.def("mean_field_step", &crf_step, py::arg("unary").noconvert(), py::arg("q").noconvert(), py::arg("terms"),
        py::arg("threads"));
  m.def("kl_divergence", &crf_kl, py::arg("unary").noconvert(), py::arg("q").noconvert(), py::arg("terms"),
        py::arg("threads"));
  m.def("dense_crf_images", &crf_images, py::arg("images").noconvert(), py::arg("spatial"),
        py::arg("unary").noconvert(), py::arg("probabilities"), py::arg("clip"), py::arg("gaussian"),
        py::arg("bilateral"), py::arg("normalization"),
        py::arg("iterations"), py::arg("threads"), py::arg("want_history") = false);
  m.def("batch_mean_field", &batch_mean_field, py::arg("unary").noconvert(), py::arg("terms"), py::arg("iterations"),
        py::arg("threads"));
  m.def("mean_field_backward", &mean_field_grad<float>, py::arg("history").noconvert(), py::arg("q").noconvert(),
        py::arg("grad").noconvert(), py::arg("terms"), py::arg("threads"));
  m.def("mean_field_backward", &mean_field_grad<double>, py::arg("history").noconvert(), py::arg("q").noconvert(),
        py::arg("grad").noconvert(), py::arg("terms"), py::arg("threads"));
  m.def("image_features", &features_of_image, py::arg("spatial"), py::arg("sigma"), py::arg("image").noconvert(),
        py::arg("color_sigma"));
  py::class_<KernelBatch>(m, "KernelBatch")
      .def(py::init(&make_kernel_batch), py::arg("features").noconvert(), py::arg("normalization"),
           py::arg("threads"))
      .def_static("of_images", &kernel_batch_of_images, py::arg("images").noconvert(), py::arg("spatial"),
                  py::arg("sigma"), py::arg("color_sigma"), py::arg("normalization"), py::arg("threads"))
      .def_property_readonly("kernels", &KernelBatch::kernels)
      .def_property_readonly("points", &KernelBatch::points)
      .def("filter", &batch_filter<float>, py::arg("values").noconvert(), py::arg("transpose"), py::arg("threads"))
      .def("filter", &batch_filter<double>, py::arg("values").noconvert(), py::arg("transpose"), py::arg("threads"));
  py::class_<VotePatterns>(m, "VotePatterns")
      .def_readonly("rows", &VotePatterns::rows)
      .def_readonly("sources", &VotePatterns::sources)
      .def_readonly("classes", &VotePatterns::classes)
      .def_property_readonly("patterns", &VotePatterns::patterns)
      .def_property_readonly("counts", [](py::object self) { return view(self.cast<const VotePatterns&>().counts, self); })
      .def_property_readonly("row_pattern",
                             [](py::object self) { return view(self.cast<const VotePatterns&>().row_pattern, self); })
      .def_property_readonly("offsets", [](py::object self) { return view(self.cast<const VotePatterns&>().offsets, self); })
      .def_property_readonly("codes", [](py::object self) { return view(self.cast<const VotePatterns&>().codes, self); })
      // Picklable, so that Dask can keep a chunk's patterns on a worker or move them.
      .def(py::pickle(
          [](const VotePatterns& vp) {
            auto copy = [](const auto& v) {
              using T = typename std::decay_t<decltype(v)>::value_type;
              return py::array_t<T>(static_cast<py::ssize_t>(v.size()), v.data());
            };
            return py::make_tuple(vp.rows, vp.sources, vp.classes, copy(vp.offsets), copy(vp.codes), copy(vp.counts),
                                  copy(vp.row_pattern));
          },
          [](const py::tuple& t) {
            if (t.size() != 7) throw std::invalid_argument("internal: VotePatterns state must have 7 entries");
            VotePatterns vp;
            vp.rows = t[0].cast<int64_t>();
            vp.sources = t[1].cast<int64_t>();
            vp.classes = t[2].cast<int64_t>();
            auto fill = [&](auto& v, const py::handle& a) {
              using T = typename std::decay_t<decltype(v)>::value_type;
              const auto arr = a.cast<carray<T>>();
              v.assign(arr.data(), arr.data() + arr.size());
            };
            fill(vp.offsets, t[3]);
            fill(vp.codes, t[4]);
            fill(vp.counts, t[5]);
            fill(vp.row_pattern, t[6]);
            if (vp.offsets.size() != vp.counts.size() + 1 || vp.offsets.back() != static_cast<int64_t>(vp.codes.size())) {
              throw std::invalid_argument("internal: inconsistent VotePatterns state");
            }
            return vp;
          }));
  m.def("collapse_dense", &collapse_matrix<int8_t>, py::arg("labels").noconvert(), py::arg("classes"), py::arg("threads"));
  m.def("collapse_dense", &collapse_matrix<int16_t>, py::arg("labels").noconvert(), py::arg("classes"), py::arg("threads"));
  m.def("collapse_dense", &collapse_matrix<int32_t>, py::arg("labels").noconvert(), py::arg("classes"), py::arg("threads"));
  m.def("collapse_dense", &collapse_matrix<int64_t>, py::arg("labels").noconvert(), py::arg("classes"), py::arg("threads"));
  m.def(
      "merge_patterns",
      [](const carray<int64_t>& offsets, const carray<int32_t>& codes, const carray<double>& counts, int64_t rows,
         int64_t sources, int64_t classes, int threads) {
        const int64_t patterns = counts.size();
        if (offsets.ndim() != 1 || offsets.size() != patterns + 1 || offsets.data()[0] != 0 ||
            offsets.data()[patterns] != codes.size()) {
          throw std::invalid_argument("internal: offsets must be (P + 1,) from 0 to the number of codes");
        }
        py::gil_scoped_release release;
        return merge_patterns(offsets.data(), codes.data(), counts.data(), patterns, rows, sources, classes, threads);
      },
      py::arg("offsets").noconvert(), py::arg("codes").noconvert(), py::arg("counts").noconvert(), py::arg("rows"),
      py::arg("sources"), py::arg("classes"), py::arg("threads"));
  m.def("collapse_codes", &collapse_vote_lists, py::arg("row_offsets").noconvert(), py::arg("codes").noconvert(),
        py::arg("sources"), py::arg("classes"), py::arg("threads"));
  m.def("pattern_scores", &scores_of_patterns, py::arg("patterns"), py::arg("weights").noconvert(),
        py::arg("bias").noconvert(), py::arg("softmax"), py::arg("threads"));
  m.def("em_statistics", &em_step, py::arg("patterns"), py::arg("weights").noconvert(), py::arg("bias").noconvert(),
        py::arg("threads"));
  m.def("majority_statistics", &statistics_of_majority, py::arg("patterns"), py::arg("empty").noconvert(),
        py::arg("threads"));
  m.def("rule_statistics", &statistics_of_rules, py::arg("patterns"), py::arg("weights").noconvert(),
        py::arg("bias").noconvert(), py::arg("rules").noconvert(), py::arg("threads"));
  m.def("class_marginal", &marginal_of_classes, py::arg("patterns"), py::arg("weights").noconvert(),
        py::arg("bias").noconvert(), py::arg("threads"));
  m.def("rank_pool", &rank_pool<float>, py::arg("values").noconvert(), py::arg("q").noconvert(), py::arg("threads"));
  m.def("rank_pool", &rank_pool<double>, py::arg("values").noconvert(), py::arg("q").noconvert(), py::arg("threads"));
  m.def("rank_pool_grad", &rank_pool_grad<float>, py::arg("grad").noconvert(), py::arg("order").noconvert(),
        py::arg("q").noconvert(), py::arg("threads"));
  m.def("rank_pool_grad", &rank_pool_grad<double>, py::arg("grad").noconvert(), py::arg("order").noconvert(),
        py::arg("q").noconvert(), py::arg("threads"));
}
