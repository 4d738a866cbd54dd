#pragma once
// Bytes16: scanning text sixteen bytes at a time with GCC's generic vectors (SSE2 on x86-64;
// clang, which builds the fuzz targets, has them too). Byte-at-a-time loops over an order's
// header values and JSON strings were several percent of its CPU (docs/perf.md, sessions 16 and
// 17); the libraries at hand (libc's memchr, nlohmann's lexer) look for one byte or do much more.
// Header-only and pure, so the parsers that are fuzzed on their own can use it.
#include <bit>
#include <cstdint>
#include <cstring>

namespace bloomcast::bytes16 {

using Bytes = unsigned char __attribute__((vector_size(16)));

static_assert(std::endian::native == std::endian::little, "lane 0 is the low byte of the first word");

// Sixteen bytes from `p` (any alignment).
inline Bytes load(const char* p) {
  Bytes v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The index of the first lane that is set in `mask` (each lane 0 or all ones: what a comparison
// of two Bytes gives), or 16 when none is.
template <class Mask>
inline unsigned firstSet(Mask mask) {
  static_assert(sizeof(Mask) == 16);
  uint64_t w[2];
  std::memcpy(w, &mask, sizeof w);
  if (w[0] != 0) return static_cast<unsigned>(std::countr_zero(w[0])) / 8;
  if (w[1] != 0) return 8 + static_cast<unsigned>(std::countr_zero(w[1])) / 8;
  return 16;
}

template <class Mask>
inline bool anySet(Mask mask) {
  static_assert(sizeof(Mask) == 16);
  uint64_t w[2];
  std::memcpy(w, &mask, sizeof w);
  return (w[0] | w[1]) != 0;
}

}  // namespace bloomcast::bytes16
