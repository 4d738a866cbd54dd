#pragma once
// RTMP handshake, server side.
//
//     client                                   server
//     C0 (1 byte: version 3) + C1 (1536)  --->
//                                         <---  S0 (1) + S1 (1536) + S2 (1536)
//     C2 (1536)                           --->
//
//   C1, S1:  time (4) | version or zero (4) | 1528 random bytes
//   C2, S2:  the peer's C1/S1 echoed (plain), or random + digest (see below)
//
// Plain handshake (the RTMP specification): S1 carries zero version bytes and S2 echoes C1.
//
// Digest ("complex") handshake, sent by Flash-era encoders and by ffmpeg (ffmpeg only checks
// the answer when it plays, never when it publishes): C1's 1528 bytes after time and version
// form two 764-byte blocks, one of which holds a 32-byte HMAC-SHA256 digest at an offset taken
// from the block's first four bytes:
//
//   schema 0:  time | version | key block (764)    | digest block (764)
//              digest offset = (C1[772] + C1[773] + C1[774] + C1[775]) % 728 + 776
//   schema 1:  time | version | digest block (764) | key block (764)
//              digest offset = (C1[8] + C1[9] + C1[10] + C1[11]) % 728 + 12
//
//   digest = HMAC-SHA256(key = first 30 bytes of the Genuine FP key
//                              ("Genuine Adobe Flash Player 001"),
//                        data = the 1536 bytes without the 32 digest bytes)
//
// The server answers in the same schema: S1's digest with the first 36 bytes of the Genuine FMS
// key ("Genuine Adobe Flash Media Server 001"), and S2 = 1504 random bytes followed by
// HMAC-SHA256(key = HMAC-SHA256(key = the full 68-byte FMS key, data = C1's digest),
//             data = those 1504 bytes).
// A C1 whose digest does not verify in either schema gets the plain answer, as nginx-rtmp does.
//
// C2 is read and not checked (nginx-rtmp and SRS do not check it either).
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "ingest/proto/ParseResult.h"

namespace bloomcast::ingest {

inline constexpr size_t kHandshakePacketBytes = 1536;
inline constexpr uint8_t kRtmpVersion = 3;

// Server side of one connection's handshake. Owned by its RtmpSession; no thread of its own.
class Handshake {
 public:
  enum class Kind { kUndecided, kPlain, kDigestSchema0, kDigestSchema1 };

  // `random_seed` feeds the filler bytes of S1/S2 (they need not be secret, only vary between
  // connections); a fixed seed makes the output reproducible in tests.
  explicit Handshake(uint64_t random_seed);

  // Consumes the next handshake piece from the front of `bytes`: C0+C1 (1537 bytes), then C2
  // (1536 bytes). Consumes nothing and returns NeedMore until the whole piece is there. After
  // C0+C1 the parsed value is S0+S1+S2 to send; after C2 it is empty and done() is true; bytes
  // after C2 belong to the chunk stream. ParseError when C0 is not version 3.
  ParseResult<std::vector<uint8_t>> feed(std::span<const uint8_t> bytes);

  bool done() const { return stage_ == Stage::kDone; }
  Kind kind() const { return kind_; }

 private:
  enum class Stage { kWaitC0C1, kWaitC2, kDone };

  std::vector<uint8_t> answerC1(std::span<const uint8_t> c1);
  void fillRandom(std::span<uint8_t> out);

  Stage stage_ = Stage::kWaitC0C1;
  Kind kind_ = Kind::kUndecided;
  uint64_t random_state_;
};

// The digest keys, exported for tests that play the client side.
extern const std::array<uint8_t, 62> kGenuineFpKey;   // 30-byte text + 32 constant bytes
extern const std::array<uint8_t, 68> kGenuineFmsKey;  // 36-byte text + 32 constant bytes

}  // namespace bloomcast::ingest
