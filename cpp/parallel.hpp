// Minimal fork-join helper: run fn(i) for i in [0, n) on up to `threads` threads.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace weaksup {

inline int resolve_threads(int threads, int64_t work_items) {
  int hw = static_cast<int>(std::thread::hardware_concurrency());
  int t = threads > 0 ? threads : std::max(1, hw);
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(t, work_items)));
}

// fn(worker, i): `worker` in [0, threads) lets callers keep per-thread scratch.
// Items are handed out dynamically (images differ in cost). The first exception
// thrown by any worker is rethrown once all workers stop.
template <class Fn>
void parallel_for(int64_t n, int threads, Fn&& fn) {
  int t = resolve_threads(threads, n);
  if (t <= 1) {
    for (int64_t i = 0; i < n; ++i) fn(0, i);
    return;
  }
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_lock;
  auto work = [&](int worker) {
    try {
      for (int64_t i; (i = next.fetch_add(1)) < n;) fn(worker, i);
    } catch (...) {
      std::lock_guard<std::mutex> g(error_lock);
      if (!error) error = std::current_exception();
      next.store(n);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(t - 1);
  for (int w = 1; w < t; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace weaksup
