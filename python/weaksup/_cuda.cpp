// Bindings for the CUDA kernels. Arrays arrive as raw device pointers (Python ints,
// e.g. cupy's `.data.ptr`) with their sizes; `stream` is a cudaStream_t as an int
// (0: the legacy default stream). Validation, allocation and dispatch live in Python.
// The GIL is released while kernels are queued (and while a call waits on its stream).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "kernels.hpp"

namespace py = pybind11;
namespace gpu = weaksup::gpu;

namespace {

template <class T>
T* ptr(uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

void* stream_of(uintptr_t handle) { return reinterpret_cast<void*>(handle); }

// A dense-CRF term from Python: None (left out), (sigmas, kind, values) for the
// Gaussian term or (sigmas, colour sigmas, kind, values) for the bilateral one.
gpu::CrfTerm crf_term(const py::object& spec, bool bilateral) {
  gpu::CrfTerm term;
  if (spec.is_none()) return term;
  const auto t = spec.cast<py::tuple>();
  if (t.size() != (bilateral ? 4u : 3u)) {
    throw py::value_error(bilateral ? "bilateral must be None or (sigmas, color_sigmas, kind, values)"
                                    : "gaussian must be None or (sigmas, kind, values)");
  }
  size_t k = 0;
  term.enabled = true;
  term.sigma = t[k++].cast<std::vector<float>>();
  if (bilateral) term.color_sigma = t[k++].cast<std::vector<float>>();
  term.compat_kind = t[k++].cast<int>();
  // values: any float sequence or array (a matrix is read in C order).
  const auto values = t[k++].cast<py::array_t<float, py::array::c_style | py::array::forcecast>>();
  term.compat.assign(values.data(), values.data() + values.size());
  return term;
}

// Calls fn(T{}) with T the signed integer type of `itemsize` bytes (label matrices).
template <class Fn>
void with_label_type(int64_t itemsize, Fn&& fn) {
  switch (itemsize) {
    case 1: fn(int8_t{}); break;
    case 2: fn(int16_t{}); break;
    case 4: fn(int32_t{}); break;
    case 8: fn(int64_t{}); break;
    default: throw std::invalid_argument("label matrix: itemsize must be 1, 2, 4 or 8 (int8 to int64)");
  }
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "weaksup CUDA kernels (private; use the weaksup package)";
  using release = py::call_guard<py::gil_scoped_release>;

  m.def("device_count", &gpu::device_count, release(), "Number of CUDA devices, 0 without a driver or device.");

  m.def(
      "label",
      [](uintptr_t mask, uintptr_t labels, uintptr_t counts, int64_t batch, int64_t height, int64_t width,
         int connectivity, uintptr_t stream) {
        gpu::label(ptr<const uint8_t>(mask), ptr<int32_t>(labels), ptr<int64_t>(counts), batch, height, width,
                   connectivity, stream_of(stream));
      },
      release(), py::arg("mask_ptr"), py::arg("labels_ptr"), py::arg("counts_ptr"), py::arg("batch"),
      py::arg("height"), py::arg("width"), py::arg("connectivity"), py::arg("stream"));

  m.def(
      "component_stats",
      [](uintptr_t labels, int64_t batch, int64_t height, int64_t width, uintptr_t offsets, uintptr_t area,
         uintptr_t box, uintptr_t centroid, uintptr_t stream) {
        gpu::component_stats(ptr<const int32_t>(labels), batch, height, width, ptr<const int64_t>(offsets),
                             ptr<int64_t>(area), ptr<int64_t>(box), ptr<double>(centroid), stream_of(stream));
      },
      release(), py::arg("labels_ptr"), py::arg("batch"), py::arg("height"), py::arg("width"),
      py::arg("offsets_ptr"), py::arg("area_ptr"), py::arg("box_ptr"), py::arg("centroid_ptr"), py::arg("stream"));

  m.def(
      "cam_to_boxes",
      [](uintptr_t cams, int dtype, int64_t batch, int64_t height, int64_t width, double threshold,
         int normalization, int connectivity, uintptr_t boxes, uintptr_t stream) {
        gpu::cam_to_boxes(ptr<const void>(cams), dtype, batch, height, width, threshold, normalization,
                          connectivity, ptr<int64_t>(boxes), stream_of(stream));
      },
      release(), py::arg("cams_ptr"), py::arg("dtype"), py::arg("batch"), py::arg("height"), py::arg("width"),
      py::arg("threshold"), py::arg("normalization"), py::arg("connectivity"), py::arg("boxes_ptr"),
      py::arg("stream"));

  m.def(
      "region_growing",
      [](uintptr_t probs, int dtype, uintptr_t seeds, uintptr_t present, int64_t batch, int64_t classes,
         int64_t height, int64_t width, double fg_threshold, double bg_threshold, uintptr_t out, uintptr_t stream) {
        gpu::region_growing(ptr<const void>(probs), dtype, ptr<const uint8_t>(seeds), ptr<const uint8_t>(present),
                            batch, classes, height, width, fg_threshold, bg_threshold, ptr<uint8_t>(out),
                            stream_of(stream));
      },
      release(), py::arg("probs_ptr"), py::arg("dtype"), py::arg("seeds_ptr"), py::arg("present_ptr"),
      py::arg("batch"), py::arg("classes"), py::arg("height"), py::arg("width"), py::arg("fg_threshold"),
      py::arg("bg_threshold"), py::arg("out_ptr"), py::arg("stream"),
      "present_ptr 0: every class present.");

  m.def(
      "quantize_scoremaps",
      [](uintptr_t maps, int dtype, int64_t batch, int64_t pixels, bool normalize, uintptr_t out,
         uintptr_t stream) {
        gpu::quantize_scoremaps(ptr<const void>(maps), dtype, batch, pixels, normalize, ptr<uint8_t>(out),
                                stream_of(stream));
      },
      release(), py::arg("maps_ptr"), py::arg("dtype"), py::arg("batch"), py::arg("pixels"), py::arg("normalize"),
      py::arg("out_ptr"), py::arg("stream"));

  m.def(
      "box_correct",
      [](uintptr_t quantized, int64_t batch, int64_t height, int64_t width, uintptr_t thresholds,
         int64_t n_thresholds, uintptr_t gt_boxes, uintptr_t gt_offsets, uintptr_t iou, int64_t n_iou,
         bool multi_contour, uintptr_t correct, uintptr_t boxes, uintptr_t stream) {
        gpu::box_correct(ptr<const uint8_t>(quantized), batch, height, width, ptr<const double>(thresholds),
                         n_thresholds, ptr<const int64_t>(gt_boxes), ptr<const int64_t>(gt_offsets),
                         ptr<const double>(iou), n_iou, multi_contour, ptr<uint8_t>(correct), ptr<int64_t>(boxes),
                         stream_of(stream));
      },
      release(), py::arg("quantized_ptr"), py::arg("batch"), py::arg("height"), py::arg("width"),
      py::arg("thresholds_ptr"), py::arg("n_thresholds"), py::arg("gt_boxes_ptr"), py::arg("gt_offsets_ptr"),
      py::arg("iou_ptr"), py::arg("n_iou"), py::arg("multi_contour"), py::arg("correct_ptr"), py::arg("boxes_ptr"),
      py::arg("stream"));

  // The terms are parsed with the GIL held; it is released for the GPU work.
  m.def(
      "dense_crf_images",
      [](uintptr_t images, int64_t batch, const std::vector<int64_t>& spatial, int channels, uintptr_t unary,
         int labels, const py::object& gaussian, const py::object& bilateral, int normalization, int iterations,
         uintptr_t out, uintptr_t stream) {
        const gpu::CrfTerm g = crf_term(gaussian, false), b = crf_term(bilateral, true);
        py::gil_scoped_release release;
        gpu::dense_crf_images(ptr<const float>(images), batch, spatial, channels, ptr<const float>(unary), labels, g,
                              b, normalization, iterations, ptr<float>(out), stream_of(stream));
      },
      py::arg("images_ptr"), py::arg("batch"), py::arg("spatial"), py::arg("channels"), py::arg("unary_ptr"),
      py::arg("labels"), py::arg("gaussian"), py::arg("bilateral"), py::arg("normalization"), py::arg("iterations"),
      py::arg("out_ptr"), py::arg("stream"));

  // The lattices of one CRF term over a batch of images (float32 (batch, points,
  // channels) on the device), kept for filtering values (float32 / float64, dtype 0 / 1,
  // (batch, points, value_channels)) on the stream they were built on.
  py::class_<gpu::LatticeBatch>(m, "LatticeBatch")
      .def(py::init([](uintptr_t images, int64_t batch, const std::vector<int64_t>& spatial, int channels,
                       const std::vector<float>& sigma, const std::vector<float>& color_sigma, int normalization,
                       uintptr_t stream) {
             return std::make_unique<gpu::LatticeBatch>(ptr<const float>(images), batch, spatial, channels, sigma,
                                                        color_sigma, normalization, stream_of(stream));
           }),
           release(), py::arg("images_ptr"), py::arg("batch"), py::arg("spatial"), py::arg("channels"),
           py::arg("sigma"), py::arg("color_sigma"), py::arg("normalization"), py::arg("stream"),
           "color_sigma empty: positions only (a Gaussian term).")
      .def(
          "filter",
          [](const gpu::LatticeBatch& self, uintptr_t in, uintptr_t out, int dtype, int value_channels,
             bool transpose) {
            if (dtype == 0) self.filter(ptr<const float>(in), ptr<float>(out), value_channels, transpose);
            else if (dtype == 1) self.filter(ptr<const double>(in), ptr<double>(out), value_channels, transpose);
            else throw std::invalid_argument("lattice filter: dtype must be 0 (float32) or 1 (float64)");
          },
          release(), py::arg("in_ptr"), py::arg("out_ptr"), py::arg("dtype"), py::arg("value_channels"),
          py::arg("transpose"));

  // Label model: labels (n, m) signed integers of `itemsize` bytes, with strides in
  // elements; weights float64 (m * (k + 1), k), bias float64 (k,). Outputs are
  // caller-allocated device buffers; these only queue work on `stream` (none waits).
  m.def(
      "label_model_check",
      [](uintptr_t labels, int64_t n, int64_t sources, int64_t row_stride, int64_t col_stride, int64_t k,
         int64_t itemsize, uintptr_t out3, uintptr_t stream) {
        with_label_type(itemsize, [&](auto tag) {
          using T = decltype(tag);
          gpu::label_model_check(ptr<const T>(labels), n, sources, row_stride, col_stride, k, ptr<int64_t>(out3),
                                 stream_of(stream));
        });
      },
      release(), py::arg("labels_ptr"), py::arg("n"), py::arg("m"), py::arg("row_stride"), py::arg("col_stride"),
      py::arg("k"), py::arg("itemsize"), py::arg("out3_ptr"), py::arg("stream"),
      "out3 int64 (3,) = (row, column, value) of the first label outside [-1, k) in row-major order, or "
      "(-1, 0, 0).");

  m.def(
      "label_model_statistics",
      [](uintptr_t labels, int64_t n, int64_t sources, int64_t row_stride, int64_t col_stride, int64_t k,
         int64_t itemsize, uintptr_t weights, uintptr_t bias, uintptr_t vote_class, uintptr_t class_total,
         uintptr_t log_likelihood, uintptr_t stream) {
        with_label_type(itemsize, [&](auto tag) {
          using T = decltype(tag);
          gpu::label_model_statistics(ptr<const T>(labels), n, sources, row_stride, col_stride, k,
                                      ptr<const double>(weights), ptr<const double>(bias), ptr<double>(vote_class),
                                      ptr<double>(class_total), ptr<double>(log_likelihood), stream_of(stream));
        });
      },
      release(), py::arg("labels_ptr"), py::arg("n"), py::arg("m"), py::arg("row_stride"), py::arg("col_stride"),
      py::arg("k"), py::arg("itemsize"), py::arg("weights_ptr"), py::arg("bias_ptr"), py::arg("vote_class_ptr"),
      py::arg("class_total_ptr"), py::arg("log_likelihood_ptr"), py::arg("stream"),
      "em_statistics over every row: vote_class (m * (k + 1) * k,), class_total (k,), log_likelihood (1,).");

  m.def(
      "label_model_majority_statistics",
      [](uintptr_t labels, int64_t n, int64_t sources, int64_t row_stride, int64_t col_stride, int64_t k,
         int64_t itemsize, uintptr_t empty, uintptr_t vote_class, uintptr_t class_total, uintptr_t stream) {
        with_label_type(itemsize, [&](auto tag) {
          using T = decltype(tag);
          gpu::label_model_majority_statistics(ptr<const T>(labels), n, sources, row_stride, col_stride, k,
                                               ptr<const double>(empty), ptr<double>(vote_class),
                                               ptr<double>(class_total), stream_of(stream));
        });
      },
      release(), py::arg("labels_ptr"), py::arg("n"), py::arg("m"), py::arg("row_stride"), py::arg("col_stride"),
      py::arg("k"), py::arg("itemsize"), py::arg("empty_ptr"), py::arg("vote_class_ptr"), py::arg("class_total_ptr"),
      py::arg("stream"),
      "majority_statistics over every row (empty (k,): rows without votes): vote_class, class_total.");

  m.def(
      "label_model_marginal",
      [](uintptr_t labels, int64_t n, int64_t sources, int64_t row_stride, int64_t col_stride, int64_t k,
         int64_t itemsize, uintptr_t weights, uintptr_t bias, uintptr_t marginal, uintptr_t hessian,
         uintptr_t log_likelihood, uintptr_t stream) {
        with_label_type(itemsize, [&](auto tag) {
          using T = decltype(tag);
          gpu::label_model_marginal(ptr<const T>(labels), n, sources, row_stride, col_stride, k,
                                    ptr<const double>(weights), ptr<const double>(bias), ptr<double>(marginal),
                                    ptr<double>(hessian), ptr<double>(log_likelihood), stream_of(stream));
        });
      },
      release(), py::arg("labels_ptr"), py::arg("n"), py::arg("m"), py::arg("row_stride"), py::arg("col_stride"),
      py::arg("k"), py::arg("itemsize"), py::arg("weights_ptr"), py::arg("bias_ptr"), py::arg("marginal_ptr"),
      py::arg("hessian_ptr"), py::arg("log_likelihood_ptr"), py::arg("stream"),
      "class_marginal over every row: marginal (k,), hessian (k, k), log_likelihood (1,).");

  m.def(
      "label_model_scores",
      [](uintptr_t labels, int64_t n, int64_t sources, int64_t row_stride, int64_t col_stride, int64_t k,
         int64_t itemsize, uintptr_t weights, uintptr_t bias, bool softmax, uintptr_t out, uintptr_t stream) {
        with_label_type(itemsize, [&](auto tag) {
          using T = decltype(tag);
          gpu::label_model_scores(ptr<const T>(labels), n, sources, row_stride, col_stride, k,
                                  ptr<const double>(weights), ptr<const double>(bias), softmax, ptr<double>(out),
                                  stream_of(stream));
        });
      },
      release(), py::arg("labels_ptr"), py::arg("n"), py::arg("m"), py::arg("row_stride"), py::arg("col_stride"),
      py::arg("k"), py::arg("itemsize"), py::arg("weights_ptr"), py::arg("bias_ptr"), py::arg("softmax"),
      py::arg("out_ptr"), py::arg("stream"), "Scores (n, k) per row, or posteriors with softmax.");
}
