// Label-model kernels on the GPU: the E-step statistics, the class marginal and the
// per-row scores of cpp/label_model.hpp, computed on the dense label matrix itself (no
// collapsing into patterns; every row counts once). Scratch is O(row blocks x table),
// never O(rows x sources), so a 100M x 100 int8 matrix fits next to its statistics.
//
// The sums are deterministic: no floating-point atomics. The rows are cut into a fixed
// number of row blocks that depends on the row count and the table size only (not on
// the device); each row block's sums go to its own copy of the table, and a last kernel
// adds the copies in block order. A CUDA block takes its rows in tiles of kTileRows:
//   A. each thread scores one row of the tile into the tile buffer, as score_pattern of
//      cpp/label_model.cpp: bias, plus the weights of its votes in source order, then
//      softmax and logsumexp;
//   B. after a barrier, each thread adds the tile's rows, in row order, into the table
//      entries it owns. An entry has one owner for the whole launch (for the vote table,
//      thread c owns source j = c / k and class y = c % k: the k + 1 entries of every
//      label j can give, so the label it reads picks which of its own entries to add
//      to), so no two threads write the same entry and each entry's sum has one order.
// The table and the tile live in shared memory when they fit, else in global scratch;
// both paths run the same operations in the same order, so they give the same bits.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "common.cuh"
#include "kernels.hpp"

namespace weaksup {
namespace gpu {

namespace {

constexpr int kTileRows = 256;  // rows per tile = threads per block (one row per thread in step A)
// At most this many blocks (and block tables) for the statistics; fewer for big tables.
constexpr int64_t kMaxStatBlocks = std::min<int64_t>(1024, kMaxBlocks);
constexpr int64_t kTableBudget = int64_t{1} << 25;  // doubles over all block tables (256 MB)
// Source groups (see Layout) re-score their rows each: beyond this many, the vote table
// goes to global memory instead (a guess, not a measurement: step A costs about a third
// of step B at k = 10 and 30% coverage).
constexpr int64_t kMaxGroups = 4;

// Launches a kernel whose blocks synchronize, with `shared_bytes` of dynamic shared memory.
template <class... Params, class... Args>
void launch_blocks(void (*kernel)(Params...), int64_t blocks, size_t shared_bytes, cudaStream_t stream,
                   Args... args) {
  if (shared_bytes > 48 * 1024) {  // above the default, shared memory must be asked for
    WEAKSUP_CUDA_CHECK(
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared_bytes)));
  }
#ifdef WEAKSUP_CUDA_EMULATION
  emu_launch_blocks(static_cast<unsigned>(blocks), kTileRows, shared_bytes, stream, kernel, args...);
#else
  kernel<<<static_cast<unsigned>(blocks), kTileRows, shared_bytes, stream>>>(args...);
#endif
  WEAKSUP_CUDA_CHECK(cudaGetLastError());
}

// The dynamic shared memory of the block.
__device__ inline double* shared_doubles() {
#ifdef WEAKSUP_CUDA_EMULATION
  return static_cast<double*>(emu_dynamic_shared());
#else
  extern __shared__ double shared_storage[];
  return shared_storage;
#endif
}

// Bytes of dynamic shared memory a block may have on the current device.
size_t shared_limit() {
  int device = 0, bytes = 0;
  WEAKSUP_CUDA_CHECK(cudaGetDevice(&device));
  WEAKSUP_CUDA_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return static_cast<size_t>(bytes);
}

// A label matrix seen through its element strides; `labels` points at element (0, 0).
template <class T>
struct Labels {
  const T* labels;
  int64_t n, m, row_stride, col_stride, k;

  __device__ const T* row(int64_t i) const { return labels + i * row_stride; }
};

// s[0, k) = bias + the weights of row i's votes, in source order. Labels outside
// [0, k) count as abstentions (label_model_check reports them).
template <class T>
__device__ void score_row(const Labels<T>& L, int64_t i, const double* __restrict__ weights,
                          const double* __restrict__ bias, double* __restrict__ s) {
  const int64_t k = L.k;
  for (int64_t y = 0; y < k; ++y) s[y] = bias[y];
  const T* p = L.row(i);
  for (int64_t j = 0; j < L.m; ++j, p += L.col_stride) {
    const int64_t v = static_cast<int64_t>(*p);
    if (v < 0 || v >= k) continue;
    const double* w = weights + (j * (k + 1) + v + 1) * k;
    for (int64_t y = 0; y < k; ++y) s[y] += w[y];
  }
}

// s = softmax(s) in place; returns logsumexp(s), as score_pattern.
__device__ inline double softmax_row(double* s, int64_t k) {
  double top = s[0];
  for (int64_t y = 1; y < k; ++y) top = s[y] > top ? s[y] : top;
  double total = 0.0;
  for (int64_t y = 0; y < k; ++y) total += (s[y] = exp(s[y] - top));
  const double inverse = 1.0 / total;
  for (int64_t y = 0; y < k; ++y) s[y] *= inverse;
  return top + log(total);
}

// s[0, k) = row i's majority-vote posterior, as majority_statistics: each class's share of
// its votes, or `empty` when it has none.
template <class T>
__device__ void majority_row(const Labels<T>& L, int64_t i, const double* __restrict__ empty, double* __restrict__ s) {
  const int64_t k = L.k;
  for (int64_t y = 0; y < k; ++y) s[y] = 0.0;
  int64_t votes = 0;
  const T* p = L.row(i);
  for (int64_t j = 0; j < L.m; ++j, p += L.col_stride) {
    const int64_t v = static_cast<int64_t>(*p);
    if (v < 0 || v >= k) continue;
    s[v] += 1.0;
    ++votes;
  }
  if (votes == 0) {
    for (int64_t y = 0; y < k; ++y) s[y] = empty[y];
    return;
  }
  const double share = 1.0 / static_cast<double>(votes);
  for (int64_t y = 0; y < k; ++y) s[y] *= share;
}

// The fixed split of the rows into blocks of whole tiles.
struct RowBlocks {
  int64_t count;  // blocks
  int64_t rows_per_block;

  // From the problem size alone: at least ~4 tiles per block, at most kMaxStatBlocks
  // blocks and kTableBudget doubles of tables; at least one block (for the zeros).
  static RowBlocks make(int64_t n, int64_t table) {
    const int64_t tiles = (n + kTileRows - 1) / kTileRows;
    int64_t count = std::min({(tiles + 3) / 4, kMaxStatBlocks, kTableBudget / std::max<int64_t>(1, table)});
    count = std::max<int64_t>(1, count);
    return {count, (tiles + count - 1) / count * kTileRows};
  }
};

// How a launch lays out its work. The statistics split the sources into groups so that
// a group's share of the vote table fits in shared memory next to the tile: CUDA block
// b takes row block b / groups and source group b % groups, scores its rows (every group
// scores them again) and adds them up for its group's sources only; group 0 also keeps
// the class totals and the log-likelihood. The grouping only decides who adds what:
// each table entry still sums the rows of its row block in row order, so the results do
// not depend on it (nor on the device's shared memory, which decides it).
struct Layout {
  RowBlocks rows;
  int64_t groups, group_sources;  // source groups (1 and m when the table is global)
  int64_t table;                  // doubles in a row block's table
  int64_t ld;                     // doubles per tile row: k scores, then the logsumexp
  bool tile_shared, table_shared; // table_shared implies tile_shared: [tile | table]
  double* partial;                // (rows.count, table): the row blocks' tables
  double* tile_scratch;           // (blocks, kTileRows, ld) unless tile_shared

  int64_t blocks() const { return rows.count * groups; }
  __device__ double* tile(double* shared) const {
    return tile_shared ? shared : tile_scratch + int64_t{blockIdx.x} * kTileRows * ld;
  }
};

// The layout of label_model_statistics: a table of m sources' votes, k + 1 doubles each
// per class, then k class totals and the log-likelihood.
Layout statistics_layout(int64_t n, int64_t m, int64_t k, size_t limit, size_t* shared_bytes) {
  const int64_t table = m * (k + 1) * k + k + 1;
  Layout l{RowBlocks::make(n, table), 1, m, table, k + 1, false, false, nullptr, nullptr};
  const size_t tile = sizeof(double) * kTileRows * l.ld, per_source = sizeof(double) * (k + 1) * k;
  const size_t totals = sizeof(double) * (k + 1);
  l.tile_shared = tile <= limit;
  *shared_bytes = l.tile_shared ? tile : 0;
  if (tile + totals + (m > 0 ? per_source : 0) > limit) return l;
  const int64_t fit = m == 0 ? 0 : std::min<int64_t>(m, static_cast<int64_t>((limit - tile - totals) / per_source));
  const int64_t groups = m == 0 ? 1 : (m + fit - 1) / fit;
  if (groups > kMaxGroups) return l;
  l.table_shared = true;
  l.groups = groups;
  l.group_sources = fit;
  *shared_bytes = tile + totals + per_source * fit;
  return l;
}

// The layout of label_model_marginal: k marginals, k * k Hessian entries, the
// log-likelihood; one group.
Layout marginal_layout(int64_t n, int64_t k, size_t limit, size_t* shared_bytes) {
  const int64_t table = k + k * k + 1;
  Layout l{RowBlocks::make(n, table), 1, 0, table, k + 1, false, false, nullptr, nullptr};
  const size_t tile = sizeof(double) * kTileRows * l.ld, bytes = sizeof(double) * table;
  l.tile_shared = tile <= limit;
  l.table_shared = tile + bytes <= limit;
  *shared_bytes = (l.tile_shared ? tile : 0) + (l.table_shared ? bytes : 0);
  return l;
}

// A layout's global scratch: the row blocks' tables (always: the final sums read them)
// and the tiles that are not in shared memory.
struct Scratch {
  DeviceBuffer<double> partial, tiles;

  Scratch(Layout& l, cudaStream_t stream)
      : partial(l.rows.count * l.table, stream), tiles(l.tile_shared ? 0 : l.blocks() * kTileRows * l.ld, stream) {
    l.partial = partial.get();
    l.tile_scratch = tiles.get();
  }
};

// ---- the check ----

__global__ void fill_int64(int64_t* p, int64_t value) {
  if (first_index() == 0) *p = value;
}

// first = the smallest row-major index i * m + j of a label outside [-1, k). The walk
// follows memory order (along columns when by_column: rows are then adjacent), carrying
// its two indices along instead of dividing each time; one atomic per thread.
template <class T>
__global__ void find_bad_labels(Labels<T> L, bool by_column, int64_t* first) {
  const int64_t inner = by_column ? L.n : L.m, total = L.n * L.m, stride = index_stride();
  const int64_t inner_stride = by_column ? L.row_stride : L.col_stride;
  const int64_t outer_stride = by_column ? L.col_stride : L.row_stride;
  const int64_t d_outer = stride / inner, d_inner = stride % inner;
  int64_t g = first_index(), a = g / inner, b = g % inner, best = std::numeric_limits<int64_t>::max();
  for (; g < total; g += stride) {
    const int64_t v = static_cast<int64_t>(L.labels[a * outer_stride + b * inner_stride]);
    if (v < -1 || v >= L.k) best = std::min(best, by_column ? b * L.m + a : a * L.m + b);
    a += d_outer;
    b += d_inner;
    if (b >= inner) {
      b -= inner;
      ++a;
    }
  }
  if (best != std::numeric_limits<int64_t>::max()) atomic_min(first, best);
}

template <class T>
__global__ void report_bad_label(Labels<T> L, const int64_t* first, int64_t* out3) {
  if (first_index() != 0) return;
  const int64_t g = *first;
  if (g == std::numeric_limits<int64_t>::max()) {
    out3[0] = -1;
    out3[1] = 0;
    out3[2] = 0;
    return;
  }
  const int64_t i = g / L.m, j = g % L.m;
  out3[0] = i;
  out3[1] = j;
  out3[2] = static_cast<int64_t>(L.row(i)[j * L.col_stride]);
}

// ---- statistics and marginal ----

// Step A of a tile: thread r scores row first + r into tile row r; tile[r * ld + k]
// gets its logsumexp when ld > k. With `empty`, the majority-vote posteriors instead
// (and a logsumexp of 0).
template <class T>
__device__ inline void score_tile(const Labels<T>& L, int64_t first, int64_t rows, const double* weights,
                                  const double* bias, bool softmax, double* tile, int64_t ld,
                                  const double* empty = nullptr) {
  const int64_t r = threadIdx.x;
  if (r >= rows) return;
  double* s = tile + r * ld;
  if (empty) {
    majority_row(L, first + r, empty, s);
    if (ld > L.k) s[L.k] = 0.0;
    return;
  }
  score_row(L, first + r, weights, bias, s);
  if (softmax) {
    const double lse = softmax_row(s, L.k);
    if (ld > L.k) s[L.k] = lse;
  }
}

// The statistics of one (row block, source group). Column c < sources * k (source
// j0 + c / k, class y = c % k) owns that source's k + 1 entries for class y, one per
// label (entry of label v: (v + 1) * k + y, v = -1 being the abstain code that stays 0);
// in group 0, the k + 1 columns after them own the class totals and the log-likelihood
// (tile column k). With `empty`, the posteriors are the majority-vote ones.
template <class T>
__global__ void statistics_blocks(Labels<T> L, const double* __restrict__ weights, const double* __restrict__ bias,
                                  const double* __restrict__ empty, Layout lay) {
  const int64_t k = L.k, ld = k + 1, per_source = (k + 1) * k, votes = L.m * per_source;
  const int64_t row_block = blockIdx.x / lay.groups, group = blockIdx.x % lay.groups;
  const int64_t j0 = group * lay.group_sources, sources = std::min(L.m, j0 + lay.group_sources) - j0;
  const int64_t vote_columns = sources * k, columns = vote_columns + (group == 0 ? k + 1 : 0);
  double* shared = lay.tile_shared ? shared_doubles() : nullptr;
  double* tile = lay.tile(shared);
  double* out = lay.partial + row_block * lay.table;
  // The group's entries: source j0 + s's at group_votes + s * per_source, then the totals.
  double* group_votes = lay.table_shared ? shared + kTileRows * ld : out + j0 * per_source;
  double* totals = lay.table_shared ? group_votes + sources * per_source : out + votes;

  // Only a column's owner touches its entries, so no barrier is needed around these.
  for (int64_t c = threadIdx.x; c < columns; c += blockDim.x) {
    if (c < vote_columns) {
      double* e = group_votes + (c / k) * per_source + c % k;
      for (int64_t v = 0; v <= k; ++v) e[v * k] = 0.0;
    } else {
      totals[c - vote_columns] = 0.0;
    }
  }

  const int64_t begin = row_block * lay.rows.rows_per_block;
  const int64_t end = std::min(L.n, begin + lay.rows.rows_per_block);
  for (int64_t first = begin; first < end; first += kTileRows) {
    const int64_t rows = std::min<int64_t>(kTileRows, end - first);
    score_tile(L, first, rows, weights, bias, true, tile, ld, empty);
    __syncthreads();
    for (int64_t c = threadIdx.x; c < columns; c += blockDim.x) {
      if (c < vote_columns) {
        const int64_t s = c / k, y = c % k;
        double* __restrict__ e = group_votes + s * per_source + k + y;  // entry of label v: e[v * k]
        const T* p = L.row(first) + (j0 + s) * L.col_stride;
        const double* q = tile + y;
        for (int64_t r = 0; r < rows; ++r, p += L.row_stride, q += ld) {
          const int64_t v = static_cast<int64_t>(*p);
          if (v >= 0 && v < k) e[v * k] += *q;
        }
      } else {
        const int64_t y = c - vote_columns;  // y == k: the logsumexp column
        double sum = totals[y];
        for (int64_t r = 0; r < rows; ++r) sum += tile[r * ld + y];
        totals[y] = sum;
      }
    }
    __syncthreads();  // before the next tile overwrites this one
  }

  if (lay.table_shared) {
    for (int64_t c = threadIdx.x; c < columns; c += blockDim.x) {
      if (c < vote_columns) {
        const int64_t at = (c / k) * per_source + c % k;
        for (int64_t v = 0; v <= k; ++v) out[j0 * per_source + at + v * k] = group_votes[at + v * k];
      } else {
        out[votes + c - vote_columns] = totals[c - vote_columns];
      }
    }
  }
}

// The marginal table: marginal (k), hessian (k k), log-likelihood (1); column c owns
// entry c. The hessian entry (y, z) adds -q[y] q[z], then q[y] when y == z, per row, as
// class_marginal.
template <class T>
__global__ void marginal_blocks(Labels<T> L, const double* __restrict__ weights, const double* __restrict__ bias,
                                Layout lay) {
  const int64_t k = L.k, columns = k + k * k + 1, ld = k + 1;
  double* shared = lay.tile_shared || lay.table_shared ? shared_doubles() : nullptr;
  double* tile = lay.tile(shared);
  double* out = lay.partial + int64_t{blockIdx.x} * lay.table;
  double* table = lay.table_shared ? shared + (lay.tile_shared ? kTileRows * ld : 0) : out;
  for (int64_t c = threadIdx.x; c < columns; c += blockDim.x) table[c] = 0.0;

  const int64_t begin = blockIdx.x * lay.rows.rows_per_block;
  const int64_t end = std::min(L.n, begin + lay.rows.rows_per_block);
  for (int64_t first = begin; first < end; first += kTileRows) {
    const int64_t rows = std::min<int64_t>(kTileRows, end - first);
    score_tile(L, first, rows, weights, bias, true, tile, ld);
    __syncthreads();
    for (int64_t c = threadIdx.x; c < columns; c += blockDim.x) {
      double sum = table[c];
      if (c < k || c == columns - 1) {  // marginal[c] or the logsumexp (tile column k)
        const int64_t y = c < k ? c : k;
        for (int64_t r = 0; r < rows; ++r) sum += tile[r * ld + y];
      } else {
        const int64_t y = (c - k) / k, z = (c - k) % k;
        for (int64_t r = 0; r < rows; ++r) {
          const double qy = tile[r * ld + y];
          sum -= qy * tile[r * ld + z];
          if (y == z) sum += qy;
        }
      }
      table[c] = sum;
    }
    __syncthreads();
  }

  if (lay.table_shared) {
    for (int64_t c = threadIdx.x; c < columns; c += blockDim.x) out[c] = table[c];
  }
}

// out_a (size a), out_b (size b), out_c (the rest; not written when null) = the row
// blocks' tables added in block order, one thread per table entry.
__global__ void sum_blocks(const double* partial, int64_t blocks, int64_t table, double* out_a, int64_t a,
                           double* out_b, int64_t b, double* out_c) {
  for (int64_t x = first_index(); x < table; x += index_stride()) {
    double sum = 0.0;
    for (int64_t g = 0; g < blocks; ++g) sum += partial[g * table + x];
    if (x < a) out_a[x] = sum;
    else if (x < a + b) out_b[x - a] = sum;
    else if (out_c) out_c[x - a - b] = sum;
  }
}

// ---- scores ----

// Tiles taken with a grid stride: scored into shared memory, then copied out row-major
// (coalesced); without room for a tile, scored straight into `out`.
template <class T>
__global__ void score_rows(Labels<T> L, const double* __restrict__ weights, const double* __restrict__ bias,
                           bool softmax, bool tile_shared, double* out) {
  const int64_t k = L.k, tiles = (L.n + kTileRows - 1) / kTileRows;
  double* shared = tile_shared ? shared_doubles() : nullptr;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t first = t * kTileRows, rows = std::min<int64_t>(kTileRows, L.n - first);
    double* tile = tile_shared ? shared : out + first * k;
    score_tile(L, first, rows, weights, bias, softmax, tile, k);
    if (!tile_shared) continue;  // each thread wrote its own row: no barrier needed
    __syncthreads();
    for (int64_t x = threadIdx.x; x < rows * k; x += blockDim.x) out[first * k + x] = tile[x];
    __syncthreads();
  }
}

// ---- host side ----

void check_shape(const char* name, int64_t n, int64_t m, int64_t k) {
  if (n < 0 || m < 0) throw std::invalid_argument(std::string(name) + ": negative matrix size");
  if (k < 1) throw std::invalid_argument(std::string(name) + ": need at least one class");
}

}  // namespace

template <class T>
void label_model_check(const T* labels, int64_t n, int64_t m, int64_t row_stride, int64_t col_stride, int64_t k,
                       int64_t* out3, void* stream_handle) {
  check_shape("label_model_check", n, m, k);
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  const Labels<T> L{labels, n, m, row_stride, col_stride, k};
  const bool by_column = std::abs(row_stride) < std::abs(col_stride);
  DeviceBuffer<int64_t> first(1, stream);
  launch(fill_int64, 1, stream, first.get(), std::numeric_limits<int64_t>::max());
  launch(find_bad_labels<T>, n * m, stream, L, by_column, first.get());
  launch(report_bad_label<T>, 1, stream, L, static_cast<const int64_t*>(first.get()), out3);
}

// Vote-class and class totals, one block's rows at a time then summed in block order:
// with posteriors from weights and bias (EM), or with majority votes (weights null).
template <class T>
void run_statistics(const char* name, const T* labels, int64_t n, int64_t m, int64_t row_stride, int64_t col_stride,
                    int64_t k, const double* weights, const double* bias, const double* empty, double* vote_class,
                    double* class_total, double* log_likelihood, void* stream_handle) {
  check_shape(name, n, m, k);
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  const Labels<T> L{labels, n, m, row_stride, col_stride, k};
  size_t shared_bytes = 0;
  Layout lay = statistics_layout(n, m, k, shared_limit(), &shared_bytes);
  const Scratch scratch(lay, stream);
  launch_blocks(statistics_blocks<T>, lay.blocks(), shared_bytes, stream, L, weights, bias, empty, lay);
  const int64_t votes = m * (k + 1) * k;
  launch(sum_blocks, lay.table, stream, static_cast<const double*>(lay.partial), lay.rows.count, lay.table,
         vote_class, votes, class_total, k, log_likelihood);
}

template <class T>
void label_model_statistics(const T* labels, int64_t n, int64_t m, int64_t row_stride, int64_t col_stride, int64_t k,
                            const double* weights, const double* bias, double* vote_class, double* class_total,
                            double* log_likelihood, void* stream_handle) {
  run_statistics("label_model_statistics", labels, n, m, row_stride, col_stride, k, weights, bias,
                 static_cast<const double*>(nullptr), vote_class, class_total, log_likelihood, stream_handle);
}

template <class T>
void label_model_majority_statistics(const T* labels, int64_t n, int64_t m, int64_t row_stride, int64_t col_stride,
                                     int64_t k, const double* empty, double* vote_class, double* class_total,
                                     void* stream_handle) {
  run_statistics("label_model_majority_statistics", labels, n, m, row_stride, col_stride, k,
                 static_cast<const double*>(nullptr), static_cast<const double*>(nullptr), empty, vote_class,
                 class_total, static_cast<double*>(nullptr), stream_handle);
}

template <class T>
void label_model_marginal(const T* labels, int64_t n, int64_t m, int64_t row_stride, int64_t col_stride, int64_t k,
                          const double* weights, const double* bias, double* marginal, double* hessian,
                          double* log_likelihood, void* stream_handle) {
  check_shape("label_model_marginal", n, m, k);
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  const Labels<T> L{labels, n, m, row_stride, col_stride, k};
  size_t shared_bytes = 0;
  Layout lay = marginal_layout(n, k, shared_limit(), &shared_bytes);
  const Scratch scratch(lay, stream);
  launch_blocks(marginal_blocks<T>, lay.blocks(), shared_bytes, stream, L, weights, bias, lay);
  launch(sum_blocks, lay.table, stream, static_cast<const double*>(lay.partial), lay.rows.count, lay.table, marginal,
         k, hessian, k * k, log_likelihood);
}

template <class T>
void label_model_scores(const T* labels, int64_t n, int64_t m, int64_t row_stride, int64_t col_stride, int64_t k,
                        const double* weights, const double* bias, bool softmax, double* out, void* stream_handle) {
  check_shape("label_model_scores", n, m, k);
  if (n == 0) return;
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  const Labels<T> L{labels, n, m, row_stride, col_stride, k};
  const size_t tile_bytes = sizeof(double) * kTileRows * k;
  const bool tile_shared = tile_bytes <= shared_limit();
  const int64_t blocks = std::min<int64_t>((n + kTileRows - 1) / kTileRows, kMaxBlocks);
  launch_blocks(score_rows<T>, blocks, tile_shared ? tile_bytes : 0, stream, L, weights, bias, softmax, tile_shared,
                out);
}

#define WEAKSUP_LABEL_MODEL(T)                                                                                    \
  template void label_model_check<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t*, void*);     \
  template void label_model_statistics<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, const double*,  \
                                          const double*, double*, double*, double*, void*);                       \
  template void label_model_majority_statistics<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t,        \
                                                   const double*, double*, double*, void*);                       \
  template void label_model_marginal<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, const double*,    \
                                        const double*, double*, double*, double*, void*);                         \
  template void label_model_scores<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, const double*,      \
                                      const double*, bool, double*, void*);
WEAKSUP_LABEL_MODEL(int8_t)
WEAKSUP_LABEL_MODEL(int16_t)
WEAKSUP_LABEL_MODEL(int32_t)
WEAKSUP_LABEL_MODEL(int64_t)
#undef WEAKSUP_LABEL_MODEL

}  // namespace gpu
}  // namespace weaksup
