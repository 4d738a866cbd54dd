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

// One bit per lane of `mask` (each lane 0 or all ones: what a comparison of two Bytes gives), lane
// 0 the lowest: SSE2's pmovmskb on x86-64 (one instruction), lane by lane elsewhere.
template <class Mask>
inline unsigned bits(Mask mask) {
  static_assert(sizeof(Mask) == 16);
#if defined(__SSE2__)
  using Chars = char __attribute__((vector_size(16)));  // the builtin's operand type
  Chars chars;
  std::memcpy(&chars, &mask, sizeof chars);
  return static_cast<unsigned>(__builtin_ia32_pmovmskb128(chars));
#else
  unsigned char lanes[16];
  std::memcpy(lanes, &mask, sizeof lanes);
  unsigned out = 0;
  for (unsigned i = 0; i < 16; ++i) out |= static_cast<unsigned>(lanes[i] >> 7) << i;
  return out;
#endif
}

// The index of the first lane that is set in `mask`, or 16 when none is.
template <class Mask>
inline unsigned firstSet(Mask mask) {
  return static_cast<unsigned>(std::countr_zero(bits(mask) | 0x10000u));
}

template <class Mask>
inline bool anySet(Mask mask) {
  return bits(mask) != 0;
}

// The first byte of [p, end) that `block` selects (`block` maps a Bytes to a lane mask), or end.
// Bytes up to `readable_end` (>= end) may be loaded: the last block is read whole when 16 bytes
// from it are there, its lanes past `end` ignored; otherwise the last bytes are loaded one at a
// time into a zeroed block. Inline, for the short runs of a request head, where a call of libc's
// memchr per line cost more than the scan.
template <class Block>
inline const char* findFirst(const char* p, const char* end, const char* readable_end, Block block) {
  for (; end - p >= 16; p += 16)
    if (unsigned i = firstSet(block(load(p))); i < 16) return p + i;
  if (p == end) return end;
  auto left = static_cast<unsigned>(end - p);
  Bytes v{};
  if (readable_end - p >= 16) v = load(p);
  else std::memcpy(&v, p, left);
  unsigned i = firstSet(block(v));
  return i < left ? p + i : end;
}

}  // namespace bloomcast::bytes16
