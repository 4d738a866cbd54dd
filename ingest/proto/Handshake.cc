#include "ingest/proto/Handshake.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <optional>
#include <string>

namespace bloomcast::ingest {

// clang-format off
const std::array<uint8_t, 62> kGenuineFpKey = {
    'G', 'e', 'n', 'u', 'i', 'n', 'e', ' ', 'A', 'd', 'o', 'b', 'e', ' ', 'F', 'l',
    'a', 's', 'h', ' ', 'P', 'l', 'a', 'y', 'e', 'r', ' ', '0', '0', '1',  // 30
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
};

const std::array<uint8_t, 68> kGenuineFmsKey = {
    'G', 'e', 'n', 'u', 'i', 'n', 'e', ' ', 'A', 'd', 'o', 'b', 'e', ' ', 'F', 'l', 'a', 's',
    'h', ' ', 'M', 'e', 'd', 'i', 'a', ' ', 'S', 'e', 'r', 'v', 'e', 'r', ' ', '0', '0', '1',  // 36
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
};
// clang-format on

namespace {

using Digest = std::array<uint8_t, 32>;

constexpr size_t kDigestBytes = 32;
constexpr size_t kFpPartialKeyBytes = 30;
constexpr size_t kFmsPartialKeyBytes = 36;
// What S1 announces as the server version in a digest answer (nginx-rtmp's value). Clients that
// check S1 (ffmpeg when playing) do so only when the first version byte is >= 3.
constexpr std::array<uint8_t, 4> kServerVersion = {0x0D, 0x0E, 0x0A, 0x0D};

std::optional<Digest> hmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  Digest out{};
  unsigned int out_bytes = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
           out.data(), &out_bytes) == nullptr ||
      out_bytes != out.size()) {
    return std::nullopt;
  }
  return out;
}

// Where the digest of a 1536-byte C1/S1 sits in `schema` (see the table in Handshake.h).
size_t digestOffset(std::span<const uint8_t> packet, Handshake::Kind schema) {
  const size_t base = schema == Handshake::Kind::kDigestSchema0 ? 772 : 8;
  const size_t sum = size_t{packet[base]} + packet[base + 1] + packet[base + 2] + packet[base + 3];
  return sum % 728 + base + 4;
}

// HMAC-SHA256 of `packet` without its 32 bytes at `offset`.
std::optional<Digest> digestWithout(std::span<const uint8_t> packet, size_t offset,
                                    std::span<const uint8_t> key) {
  std::vector<uint8_t> joined(packet.begin(), packet.begin() + static_cast<ptrdiff_t>(offset));
  joined.insert(joined.end(), packet.begin() + static_cast<ptrdiff_t>(offset + kDigestBytes),
                packet.end());
  return hmacSha256(key, joined);
}

// The schema whose digest verifies in `c1`, or kPlain.
Handshake::Kind detectSchema(std::span<const uint8_t> c1) {
  // A zero version means a pre-digest client (spec handshake); no digest to look for.
  if (c1[4] == 0 && c1[5] == 0 && c1[6] == 0 && c1[7] == 0) return Handshake::Kind::kPlain;
  const auto fp_partial = std::span(kGenuineFpKey).first(kFpPartialKeyBytes);
  for (auto schema : {Handshake::Kind::kDigestSchema0, Handshake::Kind::kDigestSchema1}) {
    const size_t offset = digestOffset(c1, schema);
    const auto expected = digestWithout(c1, offset, fp_partial);
    if (expected && std::equal(expected->begin(), expected->end(), c1.begin() + offset)) {
      return schema;
    }
  }
  return Handshake::Kind::kPlain;
}

}  // namespace

Handshake::Handshake(uint64_t random_seed) : random_state_(random_seed) {}

// splitmix64: the filler only has to differ between connections, not be unpredictable.
void Handshake::fillRandom(std::span<uint8_t> out) {
  for (size_t i = 0; i < out.size(); i += 8) {
    uint64_t z = (random_state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    for (size_t j = 0; j < 8 && i + j < out.size(); ++j) {
      out[i + j] = static_cast<uint8_t>(z >> (8 * j));
    }
  }
}

std::vector<uint8_t> Handshake::answerC1(std::span<const uint8_t> c1) {
  kind_ = detectSchema(c1);

  std::vector<uint8_t> reply(1 + 2 * kHandshakePacketBytes, 0);
  reply[0] = kRtmpVersion;
  const auto s1 = std::span(reply).subspan(1, kHandshakePacketBytes);
  const auto s2 = std::span(reply).subspan(1 + kHandshakePacketBytes, kHandshakePacketBytes);
  // S1: time 0 (the handshake has no clock), version, random.
  fillRandom(s1.subspan(8));

  if (kind_ != Kind::kPlain) {
    std::copy(kServerVersion.begin(), kServerVersion.end(), s1.begin() + 4);
    const size_t s1_offset = digestOffset(s1, kind_);
    const auto s1_digest =
        digestWithout(s1, s1_offset, std::span(kGenuineFmsKey).first(kFmsPartialKeyBytes));

    const size_t c1_offset = digestOffset(c1, kind_);
    const auto s2_key = hmacSha256(kGenuineFmsKey, c1.subspan(c1_offset, kDigestBytes));
    fillRandom(s2);
    const size_t signed_bytes = kHandshakePacketBytes - kDigestBytes;
    const auto s2_digest =
        s2_key ? hmacSha256(*s2_key, s2.first(signed_bytes)) : std::optional<Digest>();
    if (s1_digest && s2_digest) {
      std::copy(s1_digest->begin(), s1_digest->end(), s1.begin() + s1_offset);
      std::copy(s2_digest->begin(), s2_digest->end(), s2.begin() + signed_bytes);
      return reply;
    }
    // HMAC unavailable: the plain answer still completes the handshake with every encoder.
    kind_ = Kind::kPlain;
    std::fill(s1.begin() + 4, s1.begin() + 8, 0);
  }
  std::copy(c1.begin(), c1.end(), s2.begin());
  return reply;
}

ParseResult<std::vector<uint8_t>> Handshake::feed(std::span<const uint8_t> bytes) {
  switch (stage_) {
    case Stage::kWaitC0C1:
      // Refuse a wrong version as soon as its byte arrives (6 would be encrypted RTMPE).
      if (!bytes.empty() && bytes[0] != kRtmpVersion) {
        return ParseError{"RTMP version " + std::to_string(bytes[0]) +
                          " in C0 (only 3 is supported)"};
      }
      if (bytes.size() < 1 + kHandshakePacketBytes) return NeedMore{};
      stage_ = Stage::kWaitC2;
      return Parsed<std::vector<uint8_t>>{answerC1(bytes.subspan(1, kHandshakePacketBytes)),
                                          1 + kHandshakePacketBytes};
    case Stage::kWaitC2:
      if (bytes.size() < kHandshakePacketBytes) return NeedMore{};
      stage_ = Stage::kDone;
      return Parsed<std::vector<uint8_t>>{{}, kHandshakePacketBytes};
    case Stage::kDone: break;
  }
  return ParseError{"handshake data after the handshake completed"};
}

}  // namespace bloomcast::ingest
