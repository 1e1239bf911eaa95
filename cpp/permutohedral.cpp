#include "permutohedral.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "crf_rows.hpp"
#include "lattice_keys.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace weaksup {

namespace {

constexpr int64_t kBlock = 1024;        // points or vertices per parallel work item
constexpr int64_t kPointBlock = Lattice::kPointBlock;  // points per splat block (see the constructor)

int64_t blocks(int64_t n) { return (n + kBlock - 1) / kBlock; }
int64_t point_blocks(int64_t n) { return (n + kPointBlock - 1) / kPointBlock; }

// Keys hash linearly, as the sum of coordinate x multiplier (mod 2^64), so that a
// neighbour's hash is the vertex's plus a constant per axis; table slots come from the
// hash mixed (murmur3's finalizer).
struct KeyHash {
  uint64_t multiplier[Lattice::kMaxDims];
  KeyHash() {
    uint64_t state = 0x9E3779B97F4A7C15ull;
    for (uint64_t& m : multiplier) {  // splitmix64, odd
      uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      m = (z ^ (z >> 31)) | 1;
    }
  }
  uint64_t operator()(const int32_t* key, int d) const {
    uint64_t h = 0;
    for (int c = 0; c < d; ++c) h += static_cast<uint64_t>(static_cast<int64_t>(key[c])) * multiplier[c];
    return h;
  }
  // The hash's change from a key to its neighbour n2 along axis j (plus one everywhere,
  // minus d at j; neighbour_keys); n1's is its negative.
  uint64_t step(int d, int j) const {
    uint64_t h = 0;
    for (int c = 0; c < d; ++c) h += multiplier[c];
    return j < d ? h - static_cast<uint64_t>(d + 1) * multiplier[j] : h;
  }
};
const KeyHash hash_key;

int64_t slot_of(uint64_t h, int64_t mask) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  return static_cast<int64_t>(h ^ (h >> 33)) & mask;
}

size_t table_size(int64_t items) {
  size_t s = 16;
  while (s < static_cast<size_t>(2 * items)) s *= 2;
  return s;
}

// Where each point lies in the lattice, computed operation for operation as densecrf's
// SSE code does (float32 throughout, round half to even): the remainder-0 vertex `rem0`
// (d coordinates; the last is implied), the rank of each of the d + 1 coordinates, and
// the barycentric weight of each of the d + 1 vertices.
class Simplexer {
 public:
  explicit Simplexer(int d) : d_(d) {
    // Expected standard deviation of the filter (p. 6 in Adams et al.), diagonal of E (p. 5).
    const float inv_std_dev = static_cast<float>(std::sqrt(2.0 / 3.0) * (d + 1));
    for (int i = 0; i < d; ++i) {
      scale_[i] = static_cast<float>(1.0 / std::sqrt(static_cast<double>((i + 2) * (i + 1))) * inv_std_dev);
    }
  }

  // Points first .. first + count - 1 (count <= 4), one per F4 lane as densecrf does
  // them: rem0 (4, d), rank (4, d + 1) and weight (4, d + 1) get lane after lane.
  void locate4(const float* features, int64_t first, int count, int32_t* rem0, int16_t* rank, float* weight) {
    const int d = d_;
    const F4 down = F4::set(1.0f / static_cast<float>(d + 1)), up = F4::set(static_cast<float>(d + 1));
    const F4 zero = F4::set(0.0f), one = F4::set(1.0f);
    auto feature = [&](int lane, int j) { return lane < count ? features[(first + lane) * d + j] : 0.0f; };
    F4 sm = zero;  // elevate the feature: y = E p
    for (int j = d; j > 0; --j) {
      const F4 f = F4::lanes(feature(0, j - 1), feature(1, j - 1), feature(2, j - 1), feature(3, j - 1));
      const F4 cf = f * F4::set(scale_[j - 1]);
      elevated_[j] = sm - F4::set(static_cast<float>(j)) * cf;
      sm = sm + cf;
    }
    elevated_[0] = sm;
    F4 sum = zero;  // the closest remainder-0 point, by rounding
    for (int i = 0; i <= d; ++i) {
      const F4 v = (down * elevated_[i]).round_even();
      rem0_[i] = v * up;
      sum = sum + v;
    }
    for (int i = 0; i <= d; ++i) rank_[i] = zero;  // the simplex: sort order of the differences
    for (int i = 0; i < d; ++i) {
      const F4 di = elevated_[i] - rem0_[i];
      for (int j = i + 1; j <= d; ++j) {
        const F4 c = (di < elevated_[j] - rem0_[j]) & one;
        rank_[i] = rank_[i] + c;
        rank_[j] = rank_[j] + (one - c);
      }
    }
    for (int i = 0; i <= d; ++i) {  // back onto the plane if the rounding left it
      rank_[i] = rank_[i] + sum;
      const F4 shift = ((rank_[i] < zero) & up) - ((rank_[i] >= up) & up);
      rank_[i] = rank_[i] + shift;
      rem0_[i] = rem0_[i] + shift;
    }
    alignas(16) float e[4], r0[4], rk[4];
    for (int lane = 0; lane < count; ++lane) {
      float* bary = bary_;  // barycentric coordinates (p. 10), lane by lane as densecrf
      for (int i = 0; i < d + 2; ++i) bary[i] = 0;
      for (int i = 0; i <= d; ++i) {
        elevated_[i].store(e);
        rem0_[i].store(r0);
        rank_[i].store(rk);
        const float v = (e[lane] - r0[lane]) * (1.0f / static_cast<float>(d + 1));
        const int p = d - static_cast<int>(rk[lane]);
        bary[p] += v;
        bary[p + 1] -= v;
        rank[lane * (d + 1) + i] = static_cast<int16_t>(rk[lane]);
        if (i < d) rem0[lane * d + i] = static_cast<int32_t>(r0[lane]);
      }
      bary[0] += 1.0f + bary[d + 1];
      for (int i = 0; i <= d; ++i) weight[lane * (d + 1) + i] = bary[i];
    }
  }

 private:
  static constexpr int kMaxD = Lattice::kMaxDims;
  int d_;
  float scale_[kMaxD], bary_[kMaxD + 2];
  F4 elevated_[kMaxD + 1], rem0_[kMaxD + 1], rank_[kMaxD + 1];
};

}  // namespace

Lattice::Lattice(const float* features, int64_t n, int d, int threads, bool densecrf_padding) : n_(n), d_(d) {
  if (d < 1 || d > kMaxDims) throw std::invalid_argument("features: need 1 to 64 dimensions");
  const float limit = static_cast<float>(max_feature(d));
  for (int64_t i = 0; i < n * d; ++i) {
    if (!(std::fabs(features[i]) <= limit)) {  // NaN too
      throw std::invalid_argument("features: values must be finite with |value| <= " + std::to_string(limit) +
                                  " for " + std::to_string(d) + "-dimensional features (got " +
                                  std::to_string(features[i]) + "); features are divided by their sigmas, "
                                  "so a sigma is too small for the values' range: increase it");
    }
  }
  const int64_t per = d + 1, entries = n * per;
  if (entries >= (int64_t{1} << 31)) throw std::invalid_argument("features: too many points for one lattice");
  vertex_.resize(static_cast<size_t>(entries));
  weight_.resize(static_cast<size_t>(entries));
  splat_entry_.resize(static_cast<size_t>(entries));
  const int64_t n_blocks = point_blocks(n);

  // 1. Each block of points finds its simplices and the distinct vertices among them
  //    (a small table that stays in cache), numbered by first occurrence. Its entries are
  //    regrouped by vertex in its range of splat_entry_, in entry order.
  struct Block {
    std::vector<int32_t> keys;     // (u, d): distinct vertices, by first occurrence
    std::vector<uint64_t> hashes;  // (u)
    std::vector<int32_t> start;    // (u + 1): their entries in the block's range of splat_entry_
    std::vector<int32_t> global;   // (u): lattice vertex numbers
  };
  std::vector<Block> block_of(static_cast<size_t>(n_blocks));
  struct Scratch {
    std::vector<int32_t> table, rem0, key, last_rem0;
    std::vector<int16_t> last_rank;
    std::vector<int64_t> slots;
    std::vector<int16_t> rank;
  };
  std::vector<uint64_t> hash_step(static_cast<size_t>(per));  // per axis (KeyHash::step)
  for (int j = 0; j <= d; ++j) hash_step[j] = hash_key.step(d, j);
  const int workers = resolve_threads(threads, n_blocks);
  std::vector<Scratch> scratch(static_cast<size_t>(workers));
  std::vector<Simplexer> simplexers(static_cast<size_t>(workers), Simplexer(d));
  parallel_for(n_blocks, workers, [&](int worker, int64_t block) {
    Scratch& s = scratch[worker];
    Block& out = block_of[block];
    const int64_t first = block * kPointBlock, last = std::min(n, first + kPointBlock);
    const int64_t size = static_cast<int64_t>(table_size((last - first) * per)), mask = size - 1;
    if (s.table.size() < static_cast<size_t>(size)) s.table.assign(static_cast<size_t>(size), -1);
    s.slots.clear();  // the slots this block fills, emptied again at its end
    s.rem0.resize(static_cast<size_t>(4 * d));
    s.rank.resize(static_cast<size_t>(4 * per));
    s.key.resize(static_cast<size_t>(d));
    int32_t found = 0;
    for (int64_t i = first; i < last; ++i) {
      const int lane = static_cast<int>((i - first) % 4);
      if (lane == 0) {
        simplexers[worker].locate4(features, i, static_cast<int>(std::min<int64_t>(4, last - i)), s.rem0.data(),
                                   s.rank.data(), &weight_[i * per]);
      }
      const int32_t* point_rem0 = &s.rem0[lane * d];
      const int16_t* point_rank = &s.rank[lane * per];
      // Neighbouring points often share a simplex: then they share its vertices too.
      if (i > first && std::equal(point_rem0, point_rem0 + d, s.last_rem0.begin()) &&
          std::equal(point_rank, point_rank + per, s.last_rank.begin())) {
        std::copy(&vertex_[(i - 1) * per], &vertex_[i * per], &vertex_[i * per]);
        continue;
      }
      s.last_rem0.assign(point_rem0, point_rem0 + d);
      s.last_rank.assign(point_rank, point_rank + per);
      // Vertex 0 is rem0; vertex r is vertex r - 1 plus one everywhere except minus d at
      // the coordinate ranked d - r + 1 (vertex_key), so keys and hashes follow in O(d).
      int coordinate_ranked[kMaxDims + 1];
      for (int c = 0; c <= d; ++c) coordinate_ranked[point_rank[c]] = c;
      std::copy(point_rem0, point_rem0 + d, s.key.begin());
      uint64_t h = hash_key(s.key.data(), d);
      for (int r = 0; r <= d; ++r) {
        if (r > 0) {
          const int c = coordinate_ranked[d - r + 1];
          for (int k = 0; k < d; ++k) ++s.key[k];
          if (c < d) s.key[c] -= d + 1;
          h += hash_step[c];
        }
        int64_t slot = slot_of(h, mask);
        for (;; slot = (slot + 1) & mask) {
          const int32_t v = s.table[slot];
          if (v < 0) {
            s.table[slot] = found++;
            s.slots.push_back(slot);
            out.hashes.push_back(h);
            out.keys.insert(out.keys.end(), s.key.begin(), s.key.end());
            break;
          }
          if (out.hashes[v] == h && same_key(s.key.data(), &out.keys[static_cast<size_t>(v) * d], d)) break;
        }
        vertex_[i * per + r] = s.table[slot];  // block-local for now
      }
    }
    for (int64_t slot : s.slots) s.table[slot] = -1;
    out.start.assign(static_cast<size_t>(found) + 1, 0);
    for (int64_t e = first * per; e < last * per; ++e) ++out.start[vertex_[e] + 1];
    for (int32_t v = 0; v < found; ++v) out.start[v + 1] += out.start[v];
    std::vector<int32_t> next(out.start.begin(), out.start.end() - 1);
    for (int64_t e = first * per; e < last * per; ++e) splat_entry_[first * per + next[vertex_[e]]++] = static_cast<int32_t>(e);
  });
  scratch = {};

  // 2. The lattice's vertices, numbered by first occurrence over the blocks in order
  //    (so independent of the thread count), in one table.
  std::vector<int32_t> keys;  // (m, d)
  std::vector<uint64_t> vertex_hash;
  std::vector<int32_t> table(16, -1);
  auto find = [&](const int32_t* key, uint64_t h) -> int64_t {  // the slot of key, or of its free place
    const int64_t mask = static_cast<int64_t>(table.size()) - 1;
    for (int64_t slot = slot_of(h, mask);; slot = (slot + 1) & mask) {
      const int32_t v = table[slot];
      if (v < 0 || (vertex_hash[v] == h && same_key(key, &keys[static_cast<size_t>(v) * d], d))) return slot;
    }
  };
  std::vector<int64_t> occurrences;  // per vertex: the blocks that splat onto it
  for (Block& b : block_of) {
    const size_t u = b.hashes.size();
    b.global.resize(u);
    for (size_t v = 0; v < u; ++v) {
      const int32_t* key = &b.keys[v * d];
      int64_t slot = find(key, b.hashes[v]);
      if (table[slot] < 0) {
        if (2 * (vertex_hash.size() + 1) > table.size()) {  // keep the table at most half full
          table.assign(table.size() * 2, -1);
          for (size_t w = 0; w < vertex_hash.size(); ++w) table[find(&keys[w * d], vertex_hash[w])] = static_cast<int32_t>(w);
          slot = find(key, b.hashes[v]);
        }
        table[slot] = static_cast<int32_t>(vertex_hash.size());
        vertex_hash.push_back(b.hashes[v]);
        keys.insert(keys.end(), key, key + d);
        occurrences.push_back(0);
      }
      b.global[v] = table[slot];
      ++occurrences[table[slot]];
    }
    b.keys = {};
  }
  if (densecrf_padding && n % 4 != 0) {
    // densecrf locates points four at a time and pads the last four with points at the
    // origin: their simplex joins the lattice. It carries no value of its own but relays
    // the blur between its neighbours, so results near the origin depend on it.
    std::vector<float> origin(static_cast<size_t>(d), 0.0f), unused(static_cast<size_t>(4 * per));
    std::vector<int32_t> rem0(static_cast<size_t>(4 * d)), key(static_cast<size_t>(d));
    std::vector<int16_t> rank(static_cast<size_t>(4 * per));
    Simplexer(d).locate4(origin.data(), 0, 1, rem0.data(), rank.data(), unused.data());
    for (int r = 0; r <= d; ++r) {
      vertex_key(rem0.data(), rank.data(), d, r, key.data());
      const uint64_t h = hash_key(key.data(), d);
      if (table[find(key.data(), h)] >= 0) continue;
      if (2 * (vertex_hash.size() + 1) > table.size()) {
        table.assign(table.size() * 2, -1);
        for (size_t w = 0; w < vertex_hash.size(); ++w) table[find(&keys[w * d], vertex_hash[w])] = static_cast<int32_t>(w);
      }
      table[find(key.data(), h)] = static_cast<int32_t>(vertex_hash.size());
      vertex_hash.push_back(h);
      keys.insert(keys.end(), key.begin(), key.end());
      occurrences.push_back(0);
    }
  }
  const int64_t found = static_cast<int64_t>(vertex_hash.size());

  // 3. Blur neighbours along each axis (lattice_keys.hpp); `found` = none. Each vertex
  //    looks up its neighbour n2 along every axis, which has it as its n1.
  neighbour_.assign(static_cast<size_t>(found * per * 2), static_cast<int32_t>(found));
  parallel_for(blocks(found), threads, [&](int, int64_t block) {
    std::vector<int32_t> n1(static_cast<size_t>(d)), n2(static_cast<size_t>(d));
    const int64_t mask = static_cast<int64_t>(table.size()) - 1;
    for (int64_t v = block * kBlock; v < std::min(found, (block + 1) * kBlock); ++v) {
      const int32_t* key = &keys[v * d];
      for (int j = 0; j <= d; ++j) {
        neighbour_keys(key, d, j, n1.data(), n2.data());
        const uint64_t h = vertex_hash[v] + hash_step[j];
        for (int64_t slot = slot_of(h, mask);; slot = (slot + 1) & mask) {
          const int32_t w = table[slot];
          if (w < 0) break;
          if (vertex_hash[w] == h && same_key(n2.data(), &keys[static_cast<size_t>(w) * d], d)) {
            neighbour_[(v * per + j) * 2 + 1] = w;
            neighbour_[(w * per + j) * 2] = static_cast<int32_t>(v);
            break;
          }
        }
      }
    }
  });
  table = {};
  keys = {};

  // 4. A point whose vertices no other point splats onto, and whose vertices neighbour
  //    only each other, is alone in its part of the lattice: filtering only scales its
  //    own value, by its self weight (splat, blur and slice of a one in that part). Its
  //    vertices leave the lattice (with tiny sigmas, every point's do, and the filter
  //    becomes a per-point scale). The others are renumbered in order.
  std::vector<uint8_t> removed(static_cast<size_t>(found), 0);
  self_weight_.assign(static_cast<size_t>(n), 0.0f);
  const float a = alpha();
  parallel_for(n_blocks, threads, [&](int, int64_t block) {
    const Block& b = block_of[block];
    int32_t g[kMaxDims + 1];
    const int none = static_cast<int>(per);
    float value[kMaxDims + 2], blurred[kMaxDims + 2];  // the point's vertices, then zero
    for (int64_t i = block * kPointBlock; i < std::min(n, (block + 1) * kPointBlock); ++i) {
      bool alone = true;
      for (int r = 0; r < per && alone; ++r) {
        const int32_t v = vertex_[i * per + r];  // block-local
        g[r] = b.global[v];
        alone = occurrences[g[r]] == 1 && b.start[v + 1] - b.start[v] == 1;  // one block, one entry
      }
      auto local = [&](int32_t v) -> int {  // v's place among the point's vertices, per = none, -1 = other
        if (v == found) return none;
        for (int r = 0; r < per; ++r) if (g[r] == v) return r;
        return -1;
      };
      for (int r = 0; r < per && alone; ++r) {
        const int32_t* nb = &neighbour_[static_cast<int64_t>(g[r]) * per * 2];
        alone = std::all_of(nb, nb + per * 2, [&](int32_t v) { return local(v) >= 0; });
      }
      if (!alone) continue;
      for (int r = 0; r < per; ++r) value[r] = weight_[i * per + r];
      value[per] = blurred[per] = 0.0f;
      for (int j = 0; j <= d; ++j) {  // as blur(): weights (0.5, 1, 0.5) along each axis
        for (int r = 0; r < per; ++r) {
          const int32_t* nb = &neighbour_[(static_cast<int64_t>(g[r]) * per + j) * 2];
          blurred[r] = value[r] + 0.5f * (value[local(nb[0])] + value[local(nb[1])]);
        }
        std::copy(blurred, blurred + per, value);
      }
      float self = 0.0f;
      for (int r = 0; r < per; ++r) self += weight_[i * per + r] * a * value[r];
      self_weight_[i] = self;
      for (int r = 0; r < per; ++r) removed[g[r]] = 1;
    }
  });
  std::vector<int32_t> renumber(static_cast<size_t>(found + 1));
  int64_t kept = 0;
  for (int64_t v = 0; v < found; ++v) renumber[v] = removed[v] ? -1 : static_cast<int32_t>(kept++);
  if (kept == found) self_weight_ = {};
  m_ = kept;
  renumber[found] = static_cast<int32_t>(m_);
  for (int64_t v = 0; v < found; ++v) {  // in place: renumber[v] <= v
    if (renumber[v] < 0) continue;
    for (int64_t k = 0; k < per * 2; ++k) neighbour_[renumber[v] * per * 2 + k] = renumber[neighbour_[v * per * 2 + k]];
  }
  neighbour_.resize(static_cast<size_t>(m_ * per * 2));
  neighbour_.shrink_to_fit();

  // 5. Splatting runs per block (its points stay in cache): slot s = a (block, vertex)
  //    pair sums its entries into scratch row slot_row_[s]. A vertex in one block only
  //    gets its value row straight away; the others get partial rows (after the two
  //    value arrays, grouped by vertex, blocks in order) that reduce_ then sums, so the
  //    order of every sum is independent of the thread count.
  row_start_.assign(static_cast<size_t>(m_ + 1), 0);
  for (int64_t v = 0; v < found; ++v) {
    const int32_t r = renumber[v];
    if (r < 0) continue;
    row_start_[r + 1] = row_start_[r] + (occurrences[v] == 1 ? 0 : occurrences[v]);
    if (occurrences[v] != 1) reduce_.push_back(r);
  }
  std::vector<int64_t> next_row(row_start_.begin(), row_start_.end() - 1);
  block_slot_start_.assign(static_cast<size_t>(n_blocks + 1), 0);
  for (int64_t block = 0; block < n_blocks; ++block) {
    const std::vector<int32_t>& global = block_of[block].global;
    block_slot_start_[block + 1] = block_slot_start_[block] +
        std::count_if(global.begin(), global.end(), [&](int32_t g) { return renumber[g] >= 0; });
  }
  slot_entries_.resize(static_cast<size_t>(block_slot_start_[n_blocks]));
  slot_row_.resize(slot_entries_.size());
  for (int64_t block = 0; block < n_blocks; ++block) {
    const Block& b = block_of[block];
    const int64_t base = block * kPointBlock * per;
    int64_t slot = block_slot_start_[block];
    for (size_t v = 0; v < b.global.size(); ++v) {
      const int32_t g = b.global[v], r = renumber[g];
      if (r < 0) continue;
      slot_entries_[slot] = {static_cast<int32_t>(base + b.start[v]), static_cast<int32_t>(base + b.start[v + 1])};
      slot_row_[slot++] = occurrences[g] == 1 ? r : 2 * (m_ + 1) + next_row[r]++;
    }
  }
  // Entries of removed vertices name the zero vertex m.
  parallel_for(n_blocks, threads, [&](int, int64_t block) {
    const Block& b = block_of[block];
    const int64_t first = block * kPointBlock * per, last = std::min(n, (block + 1) * kPointBlock) * per;
    for (int64_t e = first; e < last; ++e) {
      const int32_t r = renumber[b.global[vertex_[e]]];
      vertex_[e] = r < 0 ? static_cast<int32_t>(m_) : r;
    }
  });
  block_of = {};
}

int64_t Lattice::scratch_size(int channels) const {
  return (2 * (m_ + 1) + row_start_[m_]) * padded(channels);
}

// densecrf's scaling constant of the slice.
float Lattice::alpha() const { return 1.0f / (1.0f + std::pow(2.0f, static_cast<float>(-d_))); }

int64_t Lattice::splat_blocks() const { return static_cast<int64_t>(block_slot_start_.size()) - 1; }

void Lattice::splat(int64_t block, const float* in, int channels, float* scratch, const float* splat_scale) const {
  const int64_t c = padded(channels);
  const RowKernels& rows = row_kernels(c);
  const EntryDivider point_of(d_ + 1);
  for (int64_t slot = block_slot_start_[block]; slot < block_slot_start_[block + 1]; ++slot) {
    const Range& r = slot_entries_[slot];
    rows.splat_slot(scratch + slot_row_[slot] * c, in, &splat_entry_[r.begin], r.end - r.begin, weight_.data(),
                    splat_scale, point_of, c);
  }
}

const float* Lattice::blur(int channels, bool reverse, int threads, float* scratch) const {
  const int64_t c = padded(channels), per = d_ + 1;
  // Two value arrays of m + 1 vertices (the extra, zero vertex stands for missing
  // neighbours), then the splat's partial sums.
  float* const values = scratch;
  float* const blurred = scratch + (m_ + 1) * c;
  const float* const partial = scratch + 2 * (m_ + 1) * c;
  std::fill(values + m_ * c, values + (m_ + 1) * c, 0.0f);
  std::fill(blurred + m_ * c, blurred + (m_ + 1) * c, 0.0f);
  const int64_t n_reduce = static_cast<int64_t>(reduce_.size());
  parallel_for(blocks(n_reduce), threads, [&](int, int64_t block) {
    for_chunks(c, [&](auto acc, int64_t k0) {
      for (int64_t at = block * kBlock; at < std::min(n_reduce, (block + 1) * kBlock); ++at) {
        const int64_t v = reduce_[at];
        acc.zero();  // vertices no point splats onto (densecrf_padding) stay zero
        for (int64_t r = row_start_[v]; r < row_start_[v + 1]; ++r) acc.add(partial + r * c + k0);
        acc.store(values + v * c + k0);
      }
    });
  });

  // Blur along each lattice axis with weights (0.5, 1, 0.5).
  float* old_values = values;
  float* new_values = blurred;
  const RowKernels& rows = row_kernels(c);
  for (int step = 0; step <= d_; ++step) {
    const int j = reverse ? d_ - step : step;
    parallel_for(blocks(m_), threads, [&](int, int64_t block) {
      rows.blur_axis(old_values, new_values, neighbour_.data(), static_cast<int>(per), j, block * kBlock,
                     std::min(m_, (block + 1) * kBlock), c);
    });
    std::swap(old_values, new_values);
  }
  return old_values;
}

void Lattice::filter(const float* in, float* out, int channels, bool reverse, int threads, float* scratch,
                     const float* splat_scale, const float* slice_scale) const {
  const int64_t c = padded(channels), per = d_ + 1;
  // (With no vertices left, splat and blur do nothing and the slice adds self weights.)
  parallel_for(splat_blocks(), threads,
               [&](int, int64_t block) { splat(block, in, channels, scratch, splat_scale); });
  const float* values = blur(channels, reverse, threads, scratch);
  // Slice. densecrf's sequential code (one or two channels) multiplies by alpha after
  // the weight, its SSE code folds alpha into the weight.
  const float a = alpha();
  const bool sequential = channels <= 2 && !slice_scale;
  parallel_for(blocks(n_), threads, [&](int, int64_t block) {
    for_chunks(c, [&](auto acc, int64_t k0) {
      for (int64_t i = block * kBlock; i < std::min(n_, (block + 1) * kBlock); ++i) {
        acc.zero();
        for (int64_t e = i * per; e < (i + 1) * per; ++e) {
          const float* val = values + static_cast<int64_t>(vertex_[e]) * c + k0;
          if (sequential) {
            alignas(16) float row[4];
            acc.a[0].store(row);
            for (int k = 0; k < 4; ++k) row[k] += weight_[e] * val[k] * a;
            acc.a[0] = F4::load(row);
          } else {
            acc.add(F4::set(slice_scale ? weight_[e] * a * slice_scale[i] : weight_[e] * a), val);
          }
        }
        if (!self_weight_.empty()) {
          float w = self_weight_[i];
          if (splat_scale) w *= splat_scale[i];
          if (slice_scale) w *= slice_scale[i];
          acc.add(F4::set(w), in + i * c + k0);
        }
        acc.store(out + i * c + k0);
      }
    });
  });
}

}  // namespace weaksup
