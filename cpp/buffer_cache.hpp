// Float buffers whose memory outlives them: a released buffer waits in a small cache for
// the next request of about its size. Freed large blocks go back to the OS, and the next
// call would pay again for faulting in (and zeroing) every page: about 8% of a 512x512
// dense CRF. The cache holds at most kMaxCachedBytes; contents are uninitialized.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace weaksup {

class FloatBuffer {
 public:
  FloatBuffer() = default;
  explicit FloatBuffer(size_t n) : size_(n) {
    if (n == 0) return;
    Cache& cache = Cache::instance();
    std::lock_guard<std::mutex> lock(cache.mutex);
    // The smallest cached block that fits without wasting more than half of it.
    size_t best = cache.blocks.size();
    for (size_t i = 0; i < cache.blocks.size(); ++i) {
      const size_t c = cache.blocks[i].first;
      if (c >= n && c <= 2 * n && (best == cache.blocks.size() || c < cache.blocks[best].first)) best = i;
    }
    if (best < cache.blocks.size()) {
      capacity_ = cache.blocks[best].first;
      data_ = std::move(cache.blocks[best].second);
      cache.bytes -= capacity_ * sizeof(float);
      cache.blocks.erase(cache.blocks.begin() + static_cast<std::ptrdiff_t>(best));
    } else {
      data_.reset(new float[n]);
      capacity_ = n;
    }
  }
  ~FloatBuffer() { release(); }
  FloatBuffer(FloatBuffer&& o) noexcept { *this = std::move(o); }
  FloatBuffer& operator=(FloatBuffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::move(o.data_);
      capacity_ = std::exchange(o.capacity_, 0);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  FloatBuffer(const FloatBuffer&) = delete;
  FloatBuffer& operator=(const FloatBuffer&) = delete;

  float* get() const { return data_.get(); }
  float& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return size_; }

 private:
  static constexpr size_t kMaxCachedBytes = size_t{512} << 20;
  static constexpr size_t kMinCachedBytes = size_t{64} << 10;  // smaller ones come from the heap

  struct Cache {
    std::mutex mutex;
    std::vector<std::pair<size_t, std::unique_ptr<float[]>>> blocks;  // (capacity, memory)
    size_t bytes = 0;
    static Cache& instance() {
      static Cache* cache = new Cache();  // never destroyed: buffers may be released at exit
      return *cache;
    }
  };

  std::unique_ptr<float[]> data_;
  size_t capacity_ = 0, size_ = 0;

  void release() {
    if (!data_) return;
    const size_t bytes = capacity_ * sizeof(float);
    if (bytes >= kMinCachedBytes) {
      Cache& cache = Cache::instance();
      std::lock_guard<std::mutex> lock(cache.mutex);
      if (cache.bytes + bytes <= kMaxCachedBytes) {
        cache.bytes += bytes;
        cache.blocks.emplace_back(capacity_, std::move(data_));
      }
    }
    data_.reset();
    capacity_ = size_ = 0;
  }
};

}  // namespace weaksup
