// DSRG's seeded region growing (Huang et al. 2018, "Weakly-Supervised Semantic
// Segmentation Network with Deep Seeded Region Growing"; the DSRGLayer of their code).
//
// Per image, with P the classes present (image_labels[c] != 0, or every class):
//   1. A pixel's label: the class a in P of highest probability (the first of equal ones,
//      as numpy's argmax) when its probability p passes the thresholds, p > fg_threshold
//      and, for the background (class 0), also p > bg_threshold; otherwise the highest
//      class with a seed there; otherwise none.
//   2. For each c in P, the 8-connected regions of pixels labelled c that hold a seed of c
//      (a pixel labelled c with seed c) are added to the seeds of c, except the pixels
//      that carry exactly one seed, of another class.
// The output holds the seeds plus what grew; other channels are the seeds as given.
#pragma once
#include <cstdint>

#include "host_device.hpp"

namespace weaksup {

// What region_growing saw of its inputs while it read them, for the caller's checks (a
// separate pass would cost as much as the growth): of probs, the smallest and largest
// value and the largest |sum over the classes - 1| of a pixel (meaningless when finite is
// false: a NaN or an infinity somewhere); whether every seed byte was 0 or 1.
struct InputSummary {
  double low = 0.0, high = 0.0, gap = 0.0;
  bool finite = true;
  bool binary_seeds = true;
};

// probs (batch, classes, height, width) of T = float or double, seeds uint8 of the same
// shape (0 / 1: other bytes are reported, not refused), present uint8 (batch, classes) or nullptr (every class present),
// out uint8 (same shape as seeds) receives 0 / 1. Thresholds are compared in T (as NumPy
// compares a T array with a Python float). Images run in parallel on `threads` threads.
// Any values give a result; whether they were probabilities is the summary's to tell.
template <class T>
InputSummary region_growing(const T* probs, const uint8_t* seeds, const uint8_t* present, int64_t batch,
                                  int64_t classes, int64_t height, int64_t width, double fg_threshold,
                                  double bg_threshold, uint8_t* out, int threads);

// Step 1 for one pixel: the label (class + 1, or 0 for none) and whether it may grow
// (its class is present). `probs` and `seeds` point at the pixel's value in channel 0,
// channels `plane` apart. Shared with the CUDA kernel, so that both agree bit for bit.
template <class T>
WEAKSUP_HOST_DEVICE inline int32_t growing_label(const T* probs, const uint8_t* seeds, const uint8_t* present, int64_t classes,
                             int64_t plane, T fg, T bg) {
  int64_t best = -1;
  T top = T(0);
  for (int64_t c = 0; c < classes; ++c) {
    if (present && !present[c]) continue;
    const T p = probs[c * plane];
    if (best < 0 || p > top) {
      best = c;
      top = p;
    }
  }
  if (best >= 0 && top > fg && (best != 0 || top > bg)) return static_cast<int32_t>(best + 1);
  for (int64_t c = classes - 1; c >= 0; --c) {
    if (seeds[c * plane]) return static_cast<int32_t>(c + 1);
  }
  return 0;
}

// Whether a pixel labelled `label` (class + 1) joins the seeds of its class when its
// region holds a seed: its class is present, and it does not carry exactly one seed of
// another class (DSRG keeps such pixels out).
WEAKSUP_HOST_DEVICE inline bool growing_may_join(const uint8_t* seeds, const uint8_t* present, int64_t classes,
                                                 int64_t plane, int32_t label) {
  if (label == 0 || (present && !present[label - 1])) return false;
  if (seeds[(label - 1) * plane]) return true;
  int64_t count = 0;
  for (int64_t c = 0; c < classes; ++c) count += seeds[c * plane] != 0;
  return count != 1;
}

}  // namespace weaksup
