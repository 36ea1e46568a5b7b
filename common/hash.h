// Canonical content hashing.
//
// Job content keys and quant keys (architecture.md, decision 4) are SHA-256
// digests of a canonical serialization, so the same configuration always
// yields the same key on every machine.
#ifndef QGRID_COMMON_HASH_H_
#define QGRID_COMMON_HASH_H_

#include <string>
#include <string_view>

namespace qgrid {

// Lower-case hex SHA-256 of `data` (FIPS 180-4).
std::string Sha256Hex(std::string_view data);

// The version string mixed into every content key: results computed by a
// different qgrid version are not reused.
const char* QgridVersion();

}  // namespace qgrid

#endif  // QGRID_COMMON_HASH_H_
