// Minimal fork-join helper: run fn(i) for i in [0, n) on up to `threads` threads.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>  // _mm_pause
#endif

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#define WEAKSUP_HAVE_GETPID 1
#endif

namespace weaksup {

// The core count, asked once: glibc reads it from /sys on every call, which costs more
// than many of the short loops it sizes.
inline int hardware_threads() {
  static const int hw = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return hw;
}

inline int resolve_threads(int threads, int64_t work_items) {
  int t = threads > 0 ? threads : hardware_threads();
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(t, work_items)));
}

// Spins `micros` microseconds at most, until done() holds; whether it did. Waking a
// sleeping thread costs 20-50 us on a virtual machine, more than many parallel loops take,
// so both sides of a job spin a little before they sleep.
template <class Done>
bool spin_until(Done&& done, int micros) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  for (int i = 1;; ++i) {
    if (done()) return true;
#if defined(__SSE2__) || defined(_M_X64)
    _mm_pause();
#endif
    if (i % 64 == 0 && std::chrono::steady_clock::now() > end) return done();
  }
}

// Worker threads kept alive between calls: the dense CRF runs a few dozen short parallel
// loops per iteration, where starting threads each time would cost more than the work.
// One job at a time; a caller that finds the pool busy (another Python thread, or a
// nested loop) gets false and starts its own threads. Idle workers spin for kSpinMicros
// after a job (the next one often follows at once), then sleep.
class ThreadPool {
 public:
  static constexpr int kSpinMicros = 100;

  static ThreadPool& instance() {
    static ThreadPool* pool = new ThreadPool();  // never destroyed: workers may outlive exit
#ifdef WEAKSUP_HAVE_GETPID
    if (pool->pid_ != getpid()) pool = new ThreadPool();  // a forked child has no workers
#endif
    return *pool;
  }

  // Runs work(w) for w in [0, t), w = 0 on the calling thread (fewer where the system
  // refuses threads: callers share their items out dynamically).
  bool try_run(int t, const std::function<void(int)>& work) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    std::unique_lock<std::mutex> lock(mutex_);
    while (workers_ < t - 1 && start_worker()) {
    }
    t = std::min(t, workers_ + 1);  // the items are shared out dynamically, so fewer workers do
    work_ = &work;
    active_ = t;
    remaining_.store(t - 1);
    generation_.fetch_add(1);  // under the mutex: a worker about to sleep sees it, or is woken
    lock.unlock();
    wake_.notify_all();
    work(0);
    if (!spin_until([&] { return remaining_.load() == 0; }, kSpinMicros)) {
      lock.lock();
      done_.wait(lock, [&] { return remaining_.load() == 0; });
      lock.unlock();
    }
    work_ = nullptr;
    return true;
  }

 private:
  std::mutex busy_, mutex_;
  std::condition_variable wake_, done_;
  int workers_ = 0;  // detached worker threads, indices 1 .. workers_
  // Written before generation_ moves on, read by the workers after they see it move.
  const std::function<void(int)>* work_ = nullptr;
  int active_ = 0;
  std::atomic<int> remaining_{0};
  std::atomic<uint64_t> generation_{0};
#ifdef WEAKSUP_HAVE_GETPID
  pid_t pid_ = getpid();
#endif

  // One more worker (called under mutex_, before the job's generation); false if the
  // system refuses a thread (limits, memory). It starts from the current generation, so
  // that it takes the job about to be posted even if it starts after the post.
  bool start_worker() {
    const int index = workers_ + 1;
    const uint64_t seen = generation_.load();
    try {
      std::thread([this, index, seen] { loop(index, seen); }).detach();
    } catch (const std::exception&) {
      return false;
    }
    workers_ = index;
    return true;
  }

  void loop(int index, uint64_t seen) {
    for (;;) {
      if (!spin_until([&] { return generation_.load() != seen; }, kSpinMicros)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load() != seen; });
      }
      seen = generation_.load();
      if (index >= active_) continue;
      (*work_)(index);
      if (remaining_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);  // the caller checks remaining_ under it before it sleeps
        done_.notify_one();
      }
    }
  }
};

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
  const std::function<void(int)> work = [&](int worker) {
    try {
      for (int64_t i; (i = next.fetch_add(1)) < n;) fn(worker, i);
    } catch (...) {
      std::lock_guard<std::mutex> g(error_lock);
      if (!error) error = std::current_exception();
      next.store(n);
    }
  };
  if (!ThreadPool::instance().try_run(t, work)) {
    // The pool is busy (another Python thread, a nested loop): threads of our own. If the
    // system refuses some, the ones we have (at least this one) share out the items.
    std::vector<std::thread> pool;
    pool.reserve(t - 1);
    for (int w = 1; w < t; ++w) {
      try {
        pool.emplace_back(work, w);
      } catch (const std::exception&) {
        break;
      }
    }
    work(0);
    for (auto& th : pool) th.join();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace weaksup
