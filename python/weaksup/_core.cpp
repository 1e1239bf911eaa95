// Bindings for the C++ kernels: convert arrays, release the GIL, call. Validation and
// dispatch live in Python; arrays arrive with the right dtype, C-contiguous.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <limits>

#include "cam_boxes.hpp"
#include "components.hpp"
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

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "weaksup C++ kernels (private; use the weaksup package)";
  m.def("label", &label, py::arg("mask").noconvert(), py::arg("connectivity"), py::arg("want_labels"),
        py::arg("want_stats"), py::arg("threads"), py::arg("wide") = false);
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
}
