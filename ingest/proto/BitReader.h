#pragma once
// MSB-first bit reading with Exp-Golomb codes, for H.264 parameter sets and AAC configs.
//
// Reading past the end returns zeros and marks the reader failed (sticky); callers check
// failed() after a group of reads. Exp-Golomb codes longer than 32 bits also fail the reader.
#include <cstddef>
#include <cstdint>
#include <span>

namespace bloomcast::ingest {

class BitReader {
 public:
  explicit BitReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  bool failed() const { return failed_; }
  size_t bitsLeft() const { return bytes_.size() * 8 - bit_pos_; }

  uint32_t bit() {
    if (failed_ || bit_pos_ >= bytes_.size() * 8) {
      failed_ = true;
      return 0;
    }
    const uint32_t b = (bytes_[bit_pos_ / 8] >> (7 - bit_pos_ % 8)) & 1;
    ++bit_pos_;
    return b;
  }

  // `count` bits (at most 32) as an unsigned number, first bit most significant.
  uint32_t bits(unsigned count) {
    uint64_t v = 0;
    for (unsigned i = 0; i < count; ++i) v = (v << 1) | bit();
    return static_cast<uint32_t>(v);
  }

  // ue(v): leading zeros n, a one, then n bits; value 2^n - 1 + those bits.
  uint32_t ue() {
    unsigned zeros = 0;
    while (!failed_ && bit() == 0) {
      if (++zeros > 31) {
        failed_ = true;
        return 0;
      }
    }
    if (failed_) return 0;
    const uint64_t value = ((uint64_t{1} << zeros) - 1) + bits(zeros);
    if (value > 0xFFFFFFFEULL) {
      failed_ = true;
      return 0;
    }
    return static_cast<uint32_t>(value);
  }

  // se(v): ue mapped 0, 1, -1, 2, -2, ...
  int32_t se() {
    const uint32_t k = ue();
    const auto magnitude = static_cast<int32_t>((k + 1) / 2);
    return (k % 2 == 1) ? magnitude : -magnitude;
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t bit_pos_ = 0;
  bool failed_ = false;
};

}  // namespace bloomcast::ingest
