// DiskCache: quantized models kept on disk, keyed by quant key (`qgrid
// worker --cache-dir DIR`), so that a restarted worker, or a second worker
// sharing DIR, loads a quantized model instead of quantizing it again
// (architecture.md, decision 4: the quant key is the unit of reuse).
//
// Layout: DIR/<quant key>/ is one entry, written by the caller's `write`
// callback (the real executor uses quant::ExportModel in the fake-quant
// format, which is exact for every method) plus `qgrid_cache.json`, the
// entry's manifest: quant key, qgrid version, the quantization report, the
// size of every file and the SHA-256 of config.json.
//
//   - Atomic writes: an entry is written into DIR/.tmp-<key>-<pid>-<n> and
//     renamed into place, so a reader never sees half an entry; when two
//     writers race, the first rename wins and the other copy is dropped.
//   - Verified reads: Lookup checks the manifest against the directory name,
//     the qgrid version, every file's size and config.json's hash. An entry
//     that fails (truncated file, edited config, missing manifest) is logged
//     and deleted, and Lookup reports a miss: the caller quantizes again.
//     Weights are not hashed (a 7B entry is gigabytes); a caller whose load
//     of a verified entry still fails calls Remove.
//   - Eviction: after each Store, least recently used entries (manifest
//     mtime, refreshed by Lookup) are deleted until the total size is at most
//     `max_bytes` (0 = no limit). The entry just stored is never evicted.
//   - Deletion renames the entry to DIR/.trash-* first, so a concurrent
//     reader sees a whole entry or none.
//
// Thread-safety: all methods may be called from several threads and several
// processes sharing DIR (coordination is through rename(2) only).
#ifndef QGRID_WORKER_DISK_CACHE_H_
#define QGRID_WORKER_DISK_CACHE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qgrid::worker {

struct DiskCacheOptions {
  std::string dir;
  int64_t max_bytes = 0;  // 0: unlimited
};

struct DiskCacheEntry {
  std::string dir;          // the entry's directory (a model folder)
  std::string report_json;  // what Store was given
  int64_t bytes = 0;
};

class DiskCache {
 public:
  // Creates DIR when absent and removes temporary/trash directories that
  // earlier processes left behind (older than an hour).
  static absl::StatusOr<std::unique_ptr<DiskCache>> Open(DiskCacheOptions o);
  DiskCache(const DiskCache&) = delete;
  DiskCache& operator=(const DiskCache&) = delete;

  // The verified entry of `key`, now most recently used; NotFound when there
  // is none (a corrupt entry is deleted first, with a warning in the log).
  absl::StatusOr<DiskCacheEntry> Lookup(const std::string& key);

  // Writes an entry: `write(tmp_dir)` fills a fresh directory, then the
  // manifest is added and the directory renamed into place. An existing
  // entry of the same key is kept (another writer got there first). Then
  // evicts down to max_bytes.
  absl::Status Store(
      const std::string& key, const std::string& report_json,
      const std::function<absl::Status(const std::string&)>& write);

  // Deletes the entry of `key` (no error when absent).
  void Remove(const std::string& key);

  // Keys of the entries present, most recently used first.
  std::vector<std::string> Keys();
  // Total size of the entries present.
  int64_t TotalBytes();

  const std::string& dir() const { return opts_.dir; }

 private:
  explicit DiskCache(DiskCacheOptions o) : opts_(std::move(o)) {}
  void Evict(const std::string& keep);
  DiskCacheOptions opts_;
};

// Whether `key` can name a cache entry (hex digits, letters, '-', '_'; no
// path separators or dots), so that a job cannot point outside DIR.
bool IsValidCacheKey(const std::string& key);

}  // namespace qgrid::worker

#endif  // QGRID_WORKER_DISK_CACHE_H_
