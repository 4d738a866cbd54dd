#pragma once
// Bounds-checked reading and appending of the fixed-width integers used by RTMP, AMF0 and FLV.
//
// ByteReader never reads past its span: a read that does not fit returns zero and marks the
// reader failed (sticky), so a parser can do a run of reads and check failed() once. Parsers
// that must tell truncation from corruption check remaining() before reading instead.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace bloomcast::ingest {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  size_t position() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  bool failed() const { return failed_; }

  uint8_t u8() { return static_cast<uint8_t>(readBe(1)); }
  uint16_t u16be() { return static_cast<uint16_t>(readBe(2)); }
  uint32_t u24be() { return static_cast<uint32_t>(readBe(3)); }
  uint32_t u32be() { return static_cast<uint32_t>(readBe(4)); }
  uint32_t u32le() {
    uint32_t be = u32be();
    return ((be & 0xFF) << 24) | ((be & 0xFF00) << 8) | ((be >> 8) & 0xFF00) | (be >> 24);
  }
  double f64be() { return std::bit_cast<double>(readBe(8)); }

  // The next `n` bytes as a view into the input (empty and failed if fewer remain).
  std::span<const uint8_t> bytes(size_t n) {
    if (!take(n)) return {};
    return bytes_.subspan(pos_ - n, n);
  }

  void skip(size_t n) { take(n); }

 private:
  bool take(size_t n) {
    if (failed_ || n > remaining()) {
      failed_ = true;
      return false;
    }
    pos_ += n;
    return true;
  }

  uint64_t readBe(size_t n) {
    if (!take(n)) return 0;
    uint64_t v = 0;
    for (size_t i = pos_ - n; i < pos_; ++i) v = (v << 8) | bytes_[i];
    return v;
  }

  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  bool failed_ = false;
};

inline void appendU8(std::vector<uint8_t>& out, uint8_t v) { out.push_back(v); }

inline void appendBe(std::vector<uint8_t>& out, uint64_t v, size_t width_bytes) {
  for (size_t i = width_bytes; i > 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * (i - 1))));
}

inline void appendU16Be(std::vector<uint8_t>& out, uint16_t v) { appendBe(out, v, 2); }
inline void appendU24Be(std::vector<uint8_t>& out, uint32_t v) { appendBe(out, v & 0xFFFFFF, 3); }
inline void appendU32Be(std::vector<uint8_t>& out, uint32_t v) { appendBe(out, v, 4); }
inline void appendU32Le(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void appendF64Be(std::vector<uint8_t>& out, double v) {
  appendBe(out, std::bit_cast<uint64_t>(v), 8);
}
inline void appendBytes(std::vector<uint8_t>& out, std::span<const uint8_t> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

}  // namespace bloomcast::ingest
