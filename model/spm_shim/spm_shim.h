// C ABI of libqgrid_spm_shim.so, the only place that links libsentencepiece.
//
// Why a shim: Debian's libsentencepiece.so bundles and exports its own copy
// of protobuf-lite. A process that also maps libprotobuf.so (libtorch and
// gRPC pull it in) crashes at static initialisation when both are linked
// normally. qgrid therefore never links libsentencepiece;
// model/sentencepiece.cc dlopen()s this shim with RTLD_LOCAL | RTLD_DEEPBIND so
// that the shim and libsentencepiece resolve protobuf symbols among themselves.
//
// Conventions: functions returning int return 0 on success and nonzero on
// failure; on failure `*err` (when err is not null) receives a malloc()ed
// message to be released with qg_spm_free_buffer. Output buffers are malloc()ed
// and released with qg_spm_free_buffer. A handle is safe for concurrent const
// use (SentencePieceProcessor's encode/decode are const).
#ifndef QGRID_MODEL_SPM_SHIM_SPM_SHIM_H_
#define QGRID_MODEL_SPM_SHIM_SPM_SHIM_H_

#include <stddef.h>

#if defined(QG_SPM_SHIM_BUILD)
#define QG_SPM_EXPORT __attribute__((visibility("default")))
#else
#define QG_SPM_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

// Bumped when the ABI below changes; the loader checks it.
#define QG_SPM_SHIM_ABI_VERSION 1

typedef struct qg_spm qg_spm;

QG_SPM_EXPORT int qg_spm_abi_version(void);

// Loads a model from a file / from the serialized ModelProto bytes.
QG_SPM_EXPORT qg_spm* qg_spm_load_file(const char* path, char** err);
QG_SPM_EXPORT qg_spm* qg_spm_load_bytes(const char* data, size_t size,
                                        char** err);
QG_SPM_EXPORT void qg_spm_free(qg_spm* h);
QG_SPM_EXPORT void qg_spm_free_buffer(void* p);

QG_SPM_EXPORT int qg_spm_vocab_size(const qg_spm* h);
QG_SPM_EXPORT int qg_spm_bos_id(const qg_spm* h);
QG_SPM_EXPORT int qg_spm_eos_id(const qg_spm* h);
QG_SPM_EXPORT int qg_spm_unk_id(const qg_spm* h);
QG_SPM_EXPORT int qg_spm_pad_id(const qg_spm* h);
QG_SPM_EXPORT int qg_spm_is_control(const qg_spm* h, int id);
QG_SPM_EXPORT int qg_spm_is_byte(const qg_spm* h, int id);
QG_SPM_EXPORT int qg_spm_is_unknown(const qg_spm* h, int id);
QG_SPM_EXPORT int qg_spm_is_unused(const qg_spm* h, int id);
QG_SPM_EXPORT float qg_spm_score(const qg_spm* h, int id);

// Piece of `id` into *out (not NUL-terminated length *len); -1 when out of
// range.
QG_SPM_EXPORT int qg_spm_id_to_piece(const qg_spm* h, int id, char** out,
                                     size_t* len);
// unk id when the piece is unknown.
QG_SPM_EXPORT int qg_spm_piece_to_id(const qg_spm* h, const char* piece,
                                     size_t len);

// Plain SentencePiece encoding (no BOS/EOS; callers add them).
QG_SPM_EXPORT int qg_spm_encode_ids(const qg_spm* h, const char* text,
                                    size_t len, int** ids, size_t* n_ids,
                                    char** err);
// Pieces, concatenated into *buf; piece i has length (*lens)[i].
QG_SPM_EXPORT int qg_spm_encode_pieces(const qg_spm* h, const char* text,
                                       size_t len, char** buf, size_t** lens,
                                       size_t* n_pieces, char** err);
QG_SPM_EXPORT int qg_spm_decode(const qg_spm* h, const int* ids, size_t n_ids,
                                char** out, size_t* out_len, char** err);

// SentencePieceTrainer::Train with a flags string
// ("--input=a.txt --model_prefix=m --vocab_size=512 ...").
QG_SPM_EXPORT int qg_spm_train(const char* flags, char** err);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // QGRID_MODEL_SPM_SHIM_SPM_SHIM_H_
