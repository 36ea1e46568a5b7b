// Implementation of the C ABI in spm_shim.h over libsentencepiece.
// Built as its own shared library; see spm_shim.h for why.
#include "model/spm_shim/spm_shim.h"

#include <dlfcn.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

struct qg_spm {
  sentencepiece::SentencePieceProcessor sp;
};

namespace {

char* Dup(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) return nullptr;
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}

void SetErr(char** err, const std::string& msg) {
  if (err != nullptr) *err = Dup(msg);
}

bool InRange(const qg_spm* h, int id) {
  return h != nullptr && id >= 0 && id < h->sp.GetPieceSize();
}

// The shim is dlopen()ed with RTLD_DEEPBIND, so its libraries resolve
// std::cout/cerr/clog to libstdc++'s own storage first. When the host
// executable holds copy-relocated versions of these objects (a PIE that
// streams to std::cout does), libstdc++ constructed only the executable's
// copies and its own storage stays raw memory: SentencePiece's logging would
// crash there. Construct the library-side objects over the executable's
// stream buffers so both write to the same place.
void AliasStream(void* exe, std::ostream* local, const char* mangled) {
  // dlsym(RTLD_DEFAULT) would honour DEEPBIND and find the local copy; the
  // executable's handle searches the executable first.
  auto* global = static_cast<std::ostream*>(dlsym(exe, mangled));
  if (global == nullptr || global == local) return;
  new (local) std::ostream(global->rdbuf());
}

__attribute__((constructor)) void FixDeepBindStreams() {
  void* exe = dlopen(nullptr, RTLD_NOW);
  if (exe == nullptr) return;
  AliasStream(exe, &std::cout, "_ZSt4cout");
  AliasStream(exe, &std::cerr, "_ZSt4cerr");
  AliasStream(exe, &std::clog, "_ZSt4clog");
  dlclose(exe);
}

}  // namespace

extern "C" {

int qg_spm_abi_version(void) { return QG_SPM_SHIM_ABI_VERSION; }

qg_spm* qg_spm_load_file(const char* path, char** err) {
  try {
    auto* h = new qg_spm;
    auto st = h->sp.Load(path);
    if (!st.ok()) {
      SetErr(err, st.ToString());
      delete h;
      return nullptr;
    }
    return h;
  } catch (const std::exception& e) {
    SetErr(err, e.what());
    return nullptr;
  }
}

qg_spm* qg_spm_load_bytes(const char* data, size_t size, char** err) {
  try {
    auto* h = new qg_spm;
    auto st = h->sp.LoadFromSerializedProto(std::string(data, size));
    if (!st.ok()) {
      SetErr(err, st.ToString());
      delete h;
      return nullptr;
    }
    return h;
  } catch (const std::exception& e) {
    SetErr(err, e.what());
    return nullptr;
  }
}

void qg_spm_free(qg_spm* h) { delete h; }
void qg_spm_free_buffer(void* p) { std::free(p); }

int qg_spm_vocab_size(const qg_spm* h) { return h->sp.GetPieceSize(); }
int qg_spm_bos_id(const qg_spm* h) { return h->sp.bos_id(); }
int qg_spm_eos_id(const qg_spm* h) { return h->sp.eos_id(); }
int qg_spm_unk_id(const qg_spm* h) { return h->sp.unk_id(); }
int qg_spm_pad_id(const qg_spm* h) { return h->sp.pad_id(); }
int qg_spm_is_control(const qg_spm* h, int id) {
  return InRange(h, id) && h->sp.IsControl(id);
}
int qg_spm_is_byte(const qg_spm* h, int id) {
  return InRange(h, id) && h->sp.IsByte(id);
}
int qg_spm_is_unknown(const qg_spm* h, int id) {
  return InRange(h, id) && h->sp.IsUnknown(id);
}
int qg_spm_is_unused(const qg_spm* h, int id) {
  return InRange(h, id) && h->sp.IsUnused(id);
}
float qg_spm_score(const qg_spm* h, int id) {
  return InRange(h, id) ? h->sp.GetScore(id) : 0.0f;
}

int qg_spm_id_to_piece(const qg_spm* h, int id, char** out, size_t* len) {
  if (!InRange(h, id)) return -1;
  const std::string& p = h->sp.IdToPiece(id);
  *out = Dup(p);
  *len = p.size();
  return *out == nullptr ? -1 : 0;
}

int qg_spm_piece_to_id(const qg_spm* h, const char* piece, size_t len) {
  return h->sp.PieceToId(std::string(piece, len));
}

int qg_spm_encode_ids(const qg_spm* h, const char* text, size_t len, int** ids,
                      size_t* n_ids, char** err) {
  try {
    std::vector<int> v;
    auto st = h->sp.Encode(std::string(text, len), &v);
    if (!st.ok()) {
      SetErr(err, st.ToString());
      return -1;
    }
    *ids = static_cast<int*>(std::malloc(sizeof(int) * (v.size() + 1)));
    if (*ids == nullptr) return -1;
    if (!v.empty()) std::memcpy(*ids, v.data(), sizeof(int) * v.size());
    *n_ids = v.size();
    return 0;
  } catch (const std::exception& e) {
    SetErr(err, e.what());
    return -1;
  }
}

int qg_spm_encode_pieces(const qg_spm* h, const char* text, size_t len,
                         char** buf, size_t** lens, size_t* n_pieces,
                         char** err) {
  try {
    std::vector<std::string> v;
    auto st = h->sp.Encode(std::string(text, len), &v);
    if (!st.ok()) {
      SetErr(err, st.ToString());
      return -1;
    }
    std::string all;
    *lens = static_cast<size_t*>(std::malloc(sizeof(size_t) * (v.size() + 1)));
    if (*lens == nullptr) return -1;
    for (size_t i = 0; i < v.size(); ++i) {
      (*lens)[i] = v[i].size();
      all += v[i];
    }
    *buf = Dup(all);
    *n_pieces = v.size();
    return *buf == nullptr ? -1 : 0;
  } catch (const std::exception& e) {
    SetErr(err, e.what());
    return -1;
  }
}

int qg_spm_decode(const qg_spm* h, const int* ids, size_t n_ids, char** out,
                  size_t* out_len, char** err) {
  try {
    std::vector<int> v(ids, ids + n_ids);
    std::string s;
    auto st = h->sp.Decode(v, &s);
    if (!st.ok()) {
      SetErr(err, st.ToString());
      return -1;
    }
    *out = Dup(s);
    *out_len = s.size();
    return *out == nullptr ? -1 : 0;
  } catch (const std::exception& e) {
    SetErr(err, e.what());
    return -1;
  }
}

int qg_spm_train(const char* flags, char** err) {
  try {
    auto st = sentencepiece::SentencePieceTrainer::Train(flags);
    if (!st.ok()) {
      SetErr(err, st.ToString());
      return -1;
    }
    return 0;
  } catch (const std::exception& e) {
    SetErr(err, e.what());
    return -1;
  }
}

}  // extern "C"
