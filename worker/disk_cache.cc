#include "worker/disk_cache.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/hash.h"
#include "glog/logging.h"
#include "nlohmann/json.hpp"

namespace qgrid::worker {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr char kManifest[] = "qgrid_cache.json";

absl::StatusOr<std::string> Slurp(const fs::path& p) {
  return ReadFileToString(p.string());
}

// A name no other thread or process uses at the same time.
std::string UniqueSuffix() {
  static std::atomic<uint64_t> n{0};
  return absl::StrCat(
      getpid(), "-", n.fetch_add(1), "-",
      std::chrono::steady_clock::now().time_since_epoch().count());
}

// Renames `p` out of the way, then deletes it: readers see a whole entry or
// none.
void Discard(const fs::path& p) {
  std::error_code ec;
  fs::path trash = p.parent_path() / (".trash-" + UniqueSuffix());
  fs::rename(p, trash, ec);
  fs::remove_all(ec ? p : trash, ec);
}

// Why the entry in `dir` is not valid for `key`, or "" when it is.
std::string Verify(const fs::path& dir, const std::string& key,
                   json* manifest) {
  auto text = Slurp(dir / kManifest);
  if (!text.ok()) return "no manifest";
  json m = json::parse(*text, nullptr, false);
  if (!m.is_object()) return "manifest is not JSON";
  if (m.value("quant_key", "") != key) return "manifest names another key";
  if (m.value("qgrid_version", "") != QgridVersion()) {
    return absl::StrCat("written by qgrid ", m.value("qgrid_version", "?"),
                        ", this is ", QgridVersion());
  }
  if (!m.contains("files") || !m["files"].is_object() || m["files"].empty()) {
    return "manifest lists no files";
  }
  std::error_code ec;
  for (auto& [name, size] : m["files"].items()) {
    if (!size.is_number_integer()) return "manifest: bad size of " + name;
    auto got = fs::file_size(dir / name, ec);
    if (ec) return name + " is missing";
    if (static_cast<int64_t>(got) != size.get<int64_t>()) {
      return absl::StrCat(name, " has ", got, " bytes, expected ",
                          size.get<int64_t>());
    }
  }
  auto cfg = Slurp(dir / "config.json");
  if (!cfg.ok()) return "config.json is missing";
  if (Sha256Hex(*cfg) != m.value("config_sha256", "")) {
    return "config.json does not match its hash";
  }
  *manifest = std::move(m);
  return "";
}

int64_t DirBytes(const fs::path& dir) {
  int64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += static_cast<int64_t>(e.file_size(ec));
  }
  return total;
}

struct Present {
  std::string key;
  fs::file_time_type used;
  int64_t bytes = 0;
};

// Entries (not temporary or trash dirs), most recently used first.
std::vector<Present> List(const std::string& dir) {
  std::vector<Present> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (!e.is_directory(ec) || !IsValidCacheKey(name)) continue;
    Present p;
    p.key = name;
    p.used = fs::last_write_time(e.path() / kManifest, ec);
    if (ec) p.used = fs::last_write_time(e.path(), ec);
    p.bytes = DirBytes(e.path());
    out.push_back(p);
  }
  std::sort(out.begin(), out.end(), [](const Present& a, const Present& b) {
    return a.used != b.used ? a.used > b.used : a.key < b.key;
  });
  return out;
}

}  // namespace

bool IsValidCacheKey(const std::string& key) {
  if (key.empty() || key.size() > 128) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
  });
}

absl::StatusOr<std::unique_ptr<DiskCache>> DiskCache::Open(DiskCacheOptions o) {
  if (o.dir.empty()) return absl::InvalidArgumentError("cache dir is empty");
  std::error_code ec;
  fs::create_directories(o.dir, ec);
  if (ec || !fs::is_directory(o.dir)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--cache-dir ", o.dir, ": cannot create: ", ec.message()));
  }
  // Leftovers of crashed writers (an hour old: a live writer of a large
  // model may still be exporting).
  auto now = fs::file_time_type::clock::now();
  for (const auto& e : fs::directory_iterator(o.dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(".tmp-", 0) != 0 && name.rfind(".trash-", 0) != 0) continue;
    std::error_code ec2;
    auto t = fs::last_write_time(e.path(), ec2);
    if (!ec2 && now - t > std::chrono::hours(1)) fs::remove_all(e.path(), ec2);
  }
  return std::unique_ptr<DiskCache>(new DiskCache(std::move(o)));
}

absl::StatusOr<DiskCacheEntry> DiskCache::Lookup(const std::string& key) {
  if (!IsValidCacheKey(key)) {
    return absl::InvalidArgumentError("not a cache key: '" + key + "'");
  }
  fs::path dir = fs::path(opts_.dir) / key;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError("no cache entry for " + key);
  }
  json m;
  std::string why = Verify(dir, key, &m);
  if (!why.empty()) {
    LOG(WARNING) << "disk cache: entry " << dir.string() << " is invalid ("
                 << why << "); deleting it, the model will be quantized again";
    Discard(dir);
    return absl::NotFoundError("invalid cache entry for " + key + ": " + why);
  }
  // Most recently used: touch the manifest.
  fs::last_write_time(dir / kManifest, fs::file_time_type::clock::now(), ec);
  DiskCacheEntry out;
  out.dir = dir.string();
  out.report_json = m.value("report", "{}");
  out.bytes = DirBytes(dir);
  return out;
}

absl::Status DiskCache::Store(
    const std::string& key, const std::string& report_json,
    const std::function<absl::Status(const std::string&)>& write) {
  if (!IsValidCacheKey(key)) {
    return absl::InvalidArgumentError("not a cache key: '" + key + "'");
  }
  fs::path final_dir = fs::path(opts_.dir) / key;
  fs::path tmp = fs::path(opts_.dir) / (".tmp-" + key + "-" + UniqueSuffix());
  std::error_code ec;
  fs::create_directories(tmp, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("disk cache: ", tmp.string(), ": ", ec.message()));
  }
  absl::Status s = write(tmp.string());
  json m = {{"quant_key", key},
            {"qgrid_version", QgridVersion()},
            {"report", report_json},
            {"files", json::object()}};
  if (s.ok()) {
    for (const auto& e : fs::directory_iterator(tmp, ec)) {
      if (!e.is_regular_file(ec)) continue;
      m["files"][e.path().filename().string()] =
          static_cast<int64_t>(e.file_size(ec));
    }
    auto cfg = Slurp(tmp / "config.json");
    if (!cfg.ok()) {
      s = absl::InternalError("disk cache: the writer made no config.json");
    } else {
      m["config_sha256"] = Sha256Hex(*cfg);
    }
  }
  if (s.ok()) {
    std::ofstream out(tmp / kManifest, std::ios::binary | std::ios::trunc);
    out << m.dump(1) << "\n";
    out.close();
    if (!out) s = absl::InternalError("disk cache: cannot write the manifest");
  }
  if (!s.ok()) {
    fs::remove_all(tmp, ec);
    return s;
  }
  fs::rename(tmp, final_dir, ec);
  if (ec) {
    // Another writer stored this key first (rename onto a non-empty
    // directory fails): keep theirs.
    fs::remove_all(tmp, ec);
    if (!fs::is_directory(final_dir, ec)) {
      return absl::InternalError("disk cache: cannot store " +
                                 final_dir.string());
    }
  }
  Evict(key);
  return absl::OkStatus();
}

void DiskCache::Remove(const std::string& key) {
  if (!IsValidCacheKey(key)) return;
  fs::path dir = fs::path(opts_.dir) / key;
  std::error_code ec;
  if (fs::exists(dir, ec)) Discard(dir);
}

std::vector<std::string> DiskCache::Keys() {
  std::vector<std::string> out;
  for (const auto& p : List(opts_.dir)) out.push_back(p.key);
  return out;
}

int64_t DiskCache::TotalBytes() {
  int64_t total = 0;
  for (const auto& p : List(opts_.dir)) total += p.bytes;
  return total;
}

void DiskCache::Evict(const std::string& keep) {
  if (opts_.max_bytes <= 0) return;
  std::vector<Present> entries = List(opts_.dir);
  int64_t total = 0;
  for (const auto& p : entries) total += p.bytes;
  for (auto it = entries.rbegin();
       it != entries.rend() && total > opts_.max_bytes; ++it) {
    if (it->key == keep) continue;
    LOG(INFO) << "disk cache: evicting " << it->key << " (" << it->bytes
              << " bytes) to stay under " << opts_.max_bytes << " bytes";
    Discard(fs::path(opts_.dir) / it->key);
    total -= it->bytes;
  }
  if (total > opts_.max_bytes) {
    LOG(WARNING) << "disk cache: entry " << keep << " alone is larger than "
                 << "--cache-max-gb; kept until the next store";
  }
}

}  // namespace qgrid::worker
