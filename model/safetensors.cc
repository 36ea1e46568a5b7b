#include "model/safetensors.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace qgrid::model {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
  at::ScalarType scalar;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kF64, "F64", 8, at::kDouble},
    {DType::kF32, "F32", 4, at::kFloat},
    {DType::kF16, "F16", 2, at::kHalf},
    {DType::kBF16, "BF16", 2, at::kBFloat16},
    {DType::kI64, "I64", 8, at::kLong},
    {DType::kI32, "I32", 4, at::kInt},
    {DType::kI16, "I16", 2, at::kShort},
    {DType::kI8, "I8", 1, at::kChar},
    {DType::kU8, "U8", 1, at::kByte},
    {DType::kBool, "BOOL", 1, at::kBool},
};

const DTypeInfo& Info(DType d) {
  for (const auto& i : kDTypes)
    if (i.dtype == d) return i;
  return kDTypes[1];
}

std::string ErrnoText() { return std::strerror(errno); }

// Reads a non-negative integer that fits in uint64 from a JSON value.
bool AsU64(const json& v, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer()) {
    int64_t x = v.get<int64_t>();
    if (x < 0) return false;
    *out = static_cast<uint64_t>(x);
    return true;
  }
  return false;
}

// Drops the mapped pages of [p, p+n) from this process's resident set. The
// mapping is read-only and file-backed (MAP_SHARED), so a later access
// simply faults the same bytes back in from the page cache. This keeps
// peak RSS of a model load near one copy of the weights: the pages a copy
// has just read are not counted twice.
void ReleasePages(const uint8_t* p, size_t n) {
  if (n == 0) return;
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t begin = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  uintptr_t end = reinterpret_cast<uintptr_t>(p) + n;
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

absl::StatusOr<DType> ParseDType(std::string_view name) {
  for (const auto& i : kDTypes)
    if (name == i.name) return i.dtype;
  std::vector<std::string> names;
  for (const auto& i : kDTypes) names.push_back(i.name);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dtype \"", std::string(name),
                   "\" (supported: ", absl::StrJoin(names, ", "), ")"));
}

const char* DTypeName(DType d) { return Info(d).name; }
size_t DTypeSize(DType d) { return Info(d).size; }
at::ScalarType ToScalarType(DType d) { return Info(d).scalar; }

absl::StatusOr<DType> DTypeFromScalarType(at::ScalarType t) {
  for (const auto& i : kDTypes)
    if (i.scalar == t) return i.dtype;
  return absl::InvalidArgumentError(
      absl::StrCat("no safetensors dtype for ", c10::toString(t)));
}

// ---------------------------------------------------------------------------
// SafetensorsFile

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) munmap(map_, size_);
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(
    const std::string& path) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  auto fail = [&path](const std::string& msg) {
    return absl::DataLossError(absl::StrCat(path, ": ", msg));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot open: ", ErrnoText()));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a regular file"));
  }
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ < 8) {
    ::close(fd);
    return fail(absl::StrCat("truncated: ", f->size_,
                             " bytes, shorter than the 8-byte header length"));
  }
  void* m = mmap(nullptr, f->size_, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) return fail("mmap failed: " + ErrnoText());
  f->map_ = m;
  const uint8_t* base = static_cast<const uint8_t*>(m);

  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | base[i];  // little-endian
  if (n > f->size_ - 8) {
    return fail(absl::StrCat("header length ", n, " is beyond the file (",
                             f->size_,
                             " bytes): truncated or not safetensors"));
  }
  std::string_view header(reinterpret_cast<const char*>(base + 8), n);

  // nlohmann keeps the last of duplicate keys silently; the callback sees
  // every top-level key so duplicates can be rejected.
  std::set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t event,
                                   json& parsed) {
    if (event == json::parse_event_t::key && depth == 1) {
      std::string k = parsed.get<std::string>();
      if (!seen.insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  json h = json::parse(header.begin(), header.end(), cb,
                       /*allow_exceptions=*/false);
  if (h.is_discarded() || !h.is_object()) {
    return fail("header is not a JSON object (not a safetensors file?)");
  }
  if (!duplicate.empty()) {
    return fail(
        absl::StrCat("tensor \"", duplicate, "\" appears twice in the header"));
  }
  const uint8_t* buffer = base + 8 + n;
  const uint64_t buffer_size = f->size_ - 8 - n;

  std::vector<std::pair<std::pair<uint64_t, uint64_t>, std::string>> ranges;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) return fail("__metadata__ is not an object");
      for (auto m2 = v.begin(); m2 != v.end(); ++m2) {
        if (!m2.value().is_string()) {
          return fail(absl::StrCat("__metadata__ value \"", m2.key(),
                                   "\" is not a string"));
        }
        f->metadata_[m2.key()] = m2.value().get<std::string>();
      }
      continue;
    }
    auto tfail = [&](const std::string& msg) {
      return fail(absl::StrCat("tensor \"", name, "\": ", msg));
    };
    if (!v.is_object()) return tfail("entry is not an object");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) return tfail("missing dtype");
    if (sh == v.end() || !sh->is_array()) return tfail("missing shape");
    if (off == v.end() || !off->is_array() || off->size() != 2) {
      return tfail("data_offsets must be [begin, end]");
    }
    auto dtype = ParseDType(dt->get<std::string>());
    if (!dtype.ok()) return tfail(std::string(dtype.status().message()));
    TensorView t;
    t.name = name;
    t.dtype = *dtype;
    t.file = path;
    uint64_t numel = 1;
    for (const auto& d : *sh) {
      uint64_t x;
      if (!AsU64(d, &x)) return tfail("shape has a non-integer or negative");
      if (x != 0 && numel > (uint64_t{1} << 62) / x) {
        return tfail("shape is too large");
      }
      numel *= x;
      t.shape.push_back(static_cast<int64_t>(x));
    }
    uint64_t b, e;
    if (!AsU64((*off)[0], &b) || !AsU64((*off)[1], &e) || b > e) {
      return tfail("data_offsets must be non-negative with begin <= end");
    }
    if (e > buffer_size) {
      return tfail(absl::StrCat("data_offsets [", b, ", ", e,
                                "] out of range: the data buffer has ",
                                buffer_size, " bytes (truncated file?)"));
    }
    uint64_t expect = numel * DTypeSize(t.dtype);
    if (expect != e - b) {
      return tfail(absl::StrCat("dtype ", DTypeName(t.dtype), " x shape [",
                                absl::StrJoin(t.shape, ", "), "] needs ",
                                expect, " bytes but data_offsets span ",
                                e - b));
    }
    t.data = buffer + b;
    t.nbytes = e - b;
    ranges.push_back({{b, e}, name});
    f->names_.push_back(name);
    f->tensors_.emplace(name, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    const auto& prev = ranges[i - 1];
    const auto& cur = ranges[i];
    // Empty tensors occupy no bytes and cannot overlap anything.
    if (cur.first.first == cur.first.second) continue;
    if (cur.first.first < prev.first.second) {
      return fail(absl::StrCat("tensor \"", cur.second, "\" bytes [",
                               cur.first.first, ", ", cur.first.second,
                               ") overlap tensor \"", prev.second, "\" [",
                               prev.first.first, ", ", prev.first.second, ")"));
    }
  }
  // names() promises file order, i.e. by offset.
  f->names_.clear();
  for (const auto& r : ranges) f->names_.push_back(r.second);
  return f;
}

const TensorView* SafetensorsFile::Find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------
// Checkpoint

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(
    const std::string& dir) {
  std::unique_ptr<Checkpoint> c(new Checkpoint());
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) {
    QG_ASSIGN_OR_RETURN(auto f, SafetensorsFile::Open(dir));
    c->files_.push_back(std::move(f));
  } else if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": no such checkpoint directory or file"));
  } else if (fs::exists(fs::path(dir) / "model.safetensors.index.json")) {
    std::string index_path = (fs::path(dir) / "model.safetensors.index.json");
    QG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(index_path));
    json idx = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (idx.is_discarded() || !idx.is_object()) {
      return absl::DataLossError(
          absl::StrCat(index_path, ": not a JSON object"));
    }
    auto wm = idx.find("weight_map");
    if (wm == idx.end() || !wm->is_object()) {
      return absl::DataLossError(
          absl::StrCat(index_path, ": missing \"weight_map\" object"));
    }
    std::map<std::string, size_t> file_index;
    std::vector<std::pair<std::string, std::string>> wanted;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it.value().is_string()) {
        return absl::DataLossError(absl::StrCat(
            index_path, ": weight_map[\"", it.key(), "\"] is not a string"));
      }
      std::string file = it.value().get<std::string>();
      // Shards are plain file names beside the index; anything else could
      // reach outside the checkpoint.
      if (file.empty() || file.find('/') != std::string::npos || file == "." ||
          file == "..") {
        return absl::DataLossError(
            absl::StrCat(index_path, ": weight_map[\"", it.key(),
                         "\"] names an invalid shard \"", file, "\""));
      }
      if (!file_index.count(file)) {
        QG_ASSIGN_OR_RETURN(
            auto f, SafetensorsFile::Open((fs::path(dir) / file).string()));
        file_index[file] = c->files_.size();
        c->files_.push_back(std::move(f));
      }
      wanted.emplace_back(it.key(), file);
    }
    for (const auto& [name, file] : wanted) {
      const TensorView* t = c->files_[file_index[file]]->Find(name);
      if (t == nullptr) {
        return absl::DataLossError(
            absl::StrCat(index_path, ": tensor \"", name, "\" is mapped to ",
                         file, " but that shard does not contain it"));
      }
    }
  } else if (fs::exists(fs::path(dir) / "model.safetensors")) {
    QG_ASSIGN_OR_RETURN(
        auto f,
        SafetensorsFile::Open((fs::path(dir) / "model.safetensors").string()));
    c->files_.push_back(std::move(f));
  } else {
    return absl::NotFoundError(absl::StrCat(dir,
                                            ": no model.safetensors or "
                                            "model.safetensors.index.json"));
  }
  for (const auto& f : c->files_) {
    for (const auto& name : f->names()) {
      const TensorView* t = f->Find(name);
      auto [it, inserted] = c->index_.emplace(name, t);
      if (!inserted) {
        return absl::DataLossError(
            absl::StrCat("tensor \"", name, "\" is stored twice: in ",
                         it->second->file, " and in ", f->path()));
      }
    }
  }
  return c;
}

std::vector<std::string> Checkpoint::TensorNames() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& [name, t] : index_) out.push_back(name);
  return out;
}

bool Checkpoint::Has(std::string_view name) const {
  return index_.find(name) != index_.end();
}

const TensorView* Checkpoint::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

absl::StatusOr<at::Tensor> Checkpoint::Load(std::string_view name,
                                            at::ScalarType dtype) const {
  const TensorView* t = Find(name);
  if (t == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "tensor \"", std::string(name), "\" not found in checkpoint ",
        files_.empty() ? std::string("(empty)") : files_[0]->path()));
  }
  at::ScalarType stored = ToScalarType(t->dtype);
  try {
    at::Tensor out = at::empty(t->shape, at::TensorOptions().dtype(dtype));
    const size_t esize = DTypeSize(t->dtype);
    const int64_t numel = static_cast<int64_t>(t->nbytes / esize);
    // Copy in chunks, dropping each chunk's mapped pages right after: the
    // peak is then the copies plus one chunk, not plus the largest tensor
    // (an embedding matrix is hundreds of MB on a 7B model).
    const int64_t chunk = std::max<int64_t>(1, (int64_t{8} << 20) / esize);
    at::Tensor flat = out.view({-1});
    const bool aligned = reinterpret_cast<uintptr_t>(t->data) % esize == 0;
    at::Tensor tmp;  // for unaligned data that needs converting
    for (int64_t off = 0; off < numel; off += chunk) {
      const int64_t n = std::min(chunk, numel - off);
      const uint8_t* src = t->data + off * esize;
      if (stored == dtype) {
        // One copy: straight from the mapping into the result.
        std::memcpy(static_cast<uint8_t*>(out.data_ptr()) + off * esize, src,
                    n * esize);
      } else if (aligned) {
        // Convert while reading the mapping.
        flat.narrow(0, off, n).copy_(at::from_blob(
            const_cast<uint8_t*>(src), {n}, at::TensorOptions().dtype(stored)));
      } else {
        if (!tmp.defined()) {
          tmp = at::empty({chunk}, at::TensorOptions().dtype(stored));
        }
        std::memcpy(tmp.data_ptr(), src, n * esize);
        flat.narrow(0, off, n).copy_(tmp.narrow(0, 0, n));
      }
      ReleasePages(src, n * esize);
    }
    return out;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(t->file, ": tensor \"",
                                            std::string(name),
                                            "\": loading failed: ", e.what()));
  }
}

absl::StatusOr<at::Tensor> Checkpoint::Load(std::string_view name) const {
  const TensorView* t = Find(name);
  if (t == nullptr) return Load(name, at::kFloat);  // the NotFound error
  return Load(name, ToScalarType(t->dtype));
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t total = 0;
  for (const auto& f : files_) total += f->file_size();
  return total;
}

const std::map<std::string, std::string>& Checkpoint::metadata() const {
  static const std::map<std::string, std::string> kEmpty;
  return files_.empty() ? kEmpty : files_[0]->metadata();
}

// ---------------------------------------------------------------------------
// Writing

absl::Status WriteSafetensors(
    const std::string& path,
    const std::vector<std::pair<std::string, at::Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata) {
  std::vector<at::Tensor> data;
  json header = json::object();
  std::set<std::string> names;
  uint64_t offset = 0;
  try {
    for (const auto& [name, tensor] : tensors) {
      if (name == "__metadata__" || !names.insert(name).second) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": tensor name \"", name, "\" is duplicated or reserved"));
      }
      if (!tensor.defined()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": tensor \"", name, "\" is undefined"));
      }
      auto dtype = DTypeFromScalarType(tensor.scalar_type());
      if (!dtype.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": tensor \"", name, "\": ", dtype.status().message()));
      }
      at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
      uint64_t nbytes = t.numel() * t.element_size();
      header[name] = {{"dtype", DTypeName(*dtype)},
                      {"shape", t.sizes().vec()},
                      {"data_offsets", {offset, offset + nbytes}}};
      offset += nbytes;
      data.push_back(t);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(path, ": ", e.what()));
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string h = header.dump();
  // Pad with spaces so the data buffer starts 8-byte aligned, as the
  // reference writer does.
  h.append((8 - h.size() % 8) % 8, ' ');

  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(tmp, ": cannot create: ", ErrnoText()));
  }
  auto write_all = [fd](const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      ssize_t w = ::write(fd, c, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      c += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  };
  uint8_t len[8];
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  bool ok = write_all(len, 8) && write_all(h.data(), h.size());
  for (const auto& t : data) {
    if (!ok) break;
    ok = write_all(t.data_ptr(), t.numel() * t.element_size());
  }
  ok = ok && fsync(fd) == 0;
  if (::close(fd) != 0) ok = false;
  if (!ok) {
    std::string err = ErrnoText();
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat(tmp, ": write failed: ", err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = ErrnoText();
    ::unlink(tmp.c_str());
    return absl::InternalError(
        absl::StrCat("rename ", tmp, " -> ", path, ": ", err));
  }
  return absl::OkStatus();
}

}  // namespace qgrid::model
