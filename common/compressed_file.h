// Reading compressed files: gzip (and dictzip, which is gzip with an extra
// header field) through zlib, and compress(1)-style LZW streams.
//
// ReadGzipFile() decompresses a whole file into memory; the dataset loader
// uses it for `.gz` data files (C4's validation shards). LzwDecompress()
// decodes one compress(1) stream body (the bytes after the 3-byte "1F 9D
// flags" header), as embedded in formats such as bible-kjv-text's
// bible.data.
//
// Thread-safety: both functions are pure apart from reading the file they
// are given; they may be called concurrently.
#ifndef QGRID_COMMON_COMPRESSED_FILE_H_
#define QGRID_COMMON_COMPRESSED_FILE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace qgrid {

// A gzip (or dictzip) file, decompressed. NotFound when it cannot be
// opened, DataLoss when the stream is corrupt.
absl::StatusOr<std::string> ReadGzipFile(const std::string& path);

// LZW decoding of one compress(1) stream body (after the 3-byte header):
// codes of 9 up to `max_bits` bits, with the clear code 256 in
// `block_mode`.
absl::StatusOr<std::string> LzwDecompress(std::string_view data,
                                          int max_bits = 16,
                                          bool block_mode = true);

}  // namespace qgrid

#endif  // QGRID_COMMON_COMPRESSED_FILE_H_
