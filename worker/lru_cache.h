// A small thread-safe LRU map from key (a quant key) to a shared value (a
// quantized model). Values are shared_ptr so an entry evicted while a job
// still uses it stays alive until the job ends.
#ifndef QGRID_WORKER_LRU_CACHE_H_
#define QGRID_WORKER_LRU_CACHE_H_

#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace qgrid::worker {

template <class V>
class LruCache {
 public:
  explicit LruCache(size_t capacity) : capacity_(capacity ? capacity : 1) {}
  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  // The value, now most recently used; nullptr when absent.
  std::shared_ptr<V> Get(const std::string& key) {
    absl::MutexLock l(&mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }

  void Put(const std::string& key, std::shared_ptr<V> value) {
    absl::MutexLock l(&mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      it->second->second = std::move(value);
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    order_.emplace_front(key, std::move(value));
    index_[key] = order_.begin();
    while (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

  // Most recently used first.
  std::vector<std::string> Keys() {
    absl::MutexLock l(&mu_);
    std::vector<std::string> out;
    for (const auto& [k, v] : order_) out.push_back(k);
    return out;
  }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<V>>;
  const size_t capacity_;
  absl::Mutex mu_;
  std::list<Entry> order_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, typename std::list<Entry>::iterator> index_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace qgrid::worker

#endif  // QGRID_WORKER_LRU_CACHE_H_
