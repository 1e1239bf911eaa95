// Weakly supervised object localization metrics, reproducing clovaai/wsolevaluation.
//
// Score maps are quantized as s = uint8(trunc(255 * map)); the mask at threshold t is
// s > int(t * max(s)). The protocol boxes the contours cv2.findContours finds in that
// mask. Here the same boxes come from connected components instead of contour tracing:
//   * every outer contour is an 8-connected foreground component; its cv2.contourArea
//     (the polygon through boundary pixel centres, holes included) equals the number of
//     2x2 pixel windows lying wholly inside the component with its holes filled, plus
//     half the windows with three such pixels;
//   * every hole contour is a 4-connected background component that does not touch the
//     border; its boundingRect is the hole's box grown by one pixel.
#pragma once
#include <cstdint>
#include <vector>

namespace weaksup {

// Protocol box: x0, y0, x1, y1 where x1 = min(x + w, W - 1) from cv2.boundingRect.
struct Box {
  int64_t x0, y0, x1, y1;
};

// s = uint8(trunc(255 * m)) for every pixel. With `normalize`, m is first min-max
// normalized per map in float64 ((m - min) / max(m - min)); a constant map becomes 0.
// Throws std::invalid_argument if a value is not finite, or (without normalize) lies
// outside [0, 1].
template <class T>
void quantize_scoremaps(const T* maps, int64_t batch, int64_t pixels, bool normalize, uint8_t* out, int threads);

// The same normalization, written as float64 (for PxAP).
template <class T>
void normalize_scoremaps(const T* maps, int64_t batch, int64_t pixels, double* out, int threads);

// The boxes wsolevaluation derives from one quantized map at one cut level (mask =
// s > level): `largest` is the V1 box (largest contourArea, the last found on ties),
// `all` every contour's box (V2). An empty mask gives the protocol's [0, 0, 0, 0].
void contour_boxes(const uint8_t* quantized, int64_t height, int64_t width, int64_t level, Box* largest,
                   std::vector<Box>* all);

// For every map b, threshold t and IoU threshold d (percent, e.g. 30, 50, 70):
// correct[(b * n_iou + d) * n_thresholds + t] = 1 when the best IoU between the
// predicted boxes (V1: the largest contour; multi_contour: all contours) and the map's
// ground-truth boxes is >= iou_thresholds[d] / 100. Ground-truth boxes of map b are
// rows gt_offsets[b] .. gt_offsets[b + 1] - 1 of gt_boxes (x0, y0, x1, y1 inclusive).
// Thresholds sharing a cut level are evaluated once. Masks nest as the level rises, so
// one pass over a map yields the runs of every level, and once no component box of a
// level can reach any IoU threshold the higher levels are skipped.
// boxes_v1 (optional, batch x n_thresholds x 4) receives the V1 box at each threshold.
void box_correct(const uint8_t* quantized, int64_t batch, int64_t height, int64_t width, const double* thresholds,
                 int64_t n_thresholds, const int64_t* gt_boxes, const int64_t* gt_offsets,
                 const double* iou_thresholds, int64_t n_iou, bool multi_contour, uint8_t* correct,
                 int64_t* boxes_v1, int threads);

// box_correct straight from score maps: each map is quantized as quantize_scoremaps
// does (same errors) right before it is evaluated.
template <class T>
void box_correct_maps(const T* maps, bool normalize, int64_t batch, int64_t height, int64_t width,
                      const double* thresholds, int64_t n_thresholds, const int64_t* gt_boxes,
                      const int64_t* gt_offsets, const double* iou_thresholds, int64_t n_iou, bool multi_contour,
                      uint8_t* correct, int64_t* boxes_v1, int threads);

// PxAP histograms: for pixels whose mask value is 1 (foreground) or 0 (background),
// add 1 to bin i of true_hist / false_hist where edges[i] <= score < edges[i + 1]
// (the last bin also takes score == edges[n_edges - 1]), as numpy.histogram does.
// Other mask values (255 = ignore) are skipped.
void pxap_histograms(const double* scores, const uint8_t* masks, int64_t batch, int64_t pixels,
                     const double* edges, int64_t n_edges, int64_t* true_hist, int64_t* false_hist, int threads);

}  // namespace weaksup
