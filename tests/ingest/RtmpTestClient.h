#pragma once
// Test support: the client side of RTMP, written independently of the server code where it
// matters (handshake digests are computed here with OpenSSL directly), plus small byte helpers.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ingest/proto/Amf0.h"
#include "ingest/proto/ChunkDecoder.h"
#include "ingest/proto/ChunkEncoder.h"
#include "ingest/proto/Handshake.h"
#include "ingest/proto/RtmpMessage.h"

namespace bloomcast::ingest::testing {

using Bytes = std::vector<uint8_t>;

inline Bytes bytesOf(std::initializer_list<int> values) {
  Bytes out;
  for (int v : values) out.push_back(static_cast<uint8_t>(v));
  return out;
}

inline Bytes fromHex(std::string_view hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

inline Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

inline std::array<uint8_t, 32> hmacSha256(const uint8_t* key, size_t key_bytes, const Bytes& data) {
  std::array<uint8_t, 32> out{};
  unsigned int out_bytes = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(key_bytes), data.data(), data.size(), out.data(),
       &out_bytes);
  return out;
}

// Digest offset in a 1536-byte C1/S1: schema 0 reads bytes 772..775, schema 1 bytes 8..11.
inline size_t digestOffset(const uint8_t* packet, int schema) {
  const size_t base = schema == 0 ? 772 : 8;
  return (size_t{packet[base]} + packet[base + 1] + packet[base + 2] + packet[base + 3]) % 728 +
         base + 4;
}

// HMAC-SHA256 of a 1536-byte packet without the 32 bytes at `offset`.
inline std::array<uint8_t, 32> digestWithout(const uint8_t* packet, size_t offset,
                                             const uint8_t* key, size_t key_bytes) {
  Bytes joined(packet, packet + offset);
  joined.insert(joined.end(), packet + offset + 32, packet + 1536);
  return hmacSha256(key, key_bytes, joined);
}

inline Bytes pseudoRandom(size_t n, uint32_t seed) {
  Bytes out(n);
  for (auto& b : out) {
    seed = seed * 1103515245 + 12345;
    b = static_cast<uint8_t>(seed >> 16);
  }
  return out;
}

// C0 + C1 with zero version bytes: the handshake of the RTMP specification.
inline Bytes plainC0C1(uint32_t seed = 1) {
  Bytes out = pseudoRandom(1537, seed);
  out[0] = 3;
  std::fill(out.begin() + 1, out.begin() + 9, 0);
  return out;
}

// C0 + C1 as Flash Player / ffmpeg send it: version bytes, digest in `schema` (0 or 1) made with
// the first 30 bytes of the Genuine FP key.
inline Bytes digestC0C1(int schema, uint32_t seed = 7) {
  Bytes out = pseudoRandom(1537, seed);
  out[0] = 3;
  uint8_t* c1 = out.data() + 1;
  std::fill(c1, c1 + 4, 0);
  const uint8_t version[] = {9, 0, 124, 2};  // what ffmpeg announces
  std::copy(version, version + 4, c1 + 4);
  const size_t offset = digestOffset(c1, schema);
  const auto digest = digestWithout(c1, offset, kGenuineFpKey.data(), 30);
  std::copy(digest.begin(), digest.end(), c1 + offset);
  return out;
}

// The client side of a connection after the handshake: messages cut into chunks.
class ChunkWriter {
 public:
  Bytes message(uint32_t csid, uint8_t type_id, uint32_t msg_stream_id, uint32_t timestamp_ms,
                Bytes payload) {
    Bytes out;
    encoder_.encode(RtmpMessage{csid, type_id, msg_stream_id, timestamp_ms, std::move(payload)},
                    out);
    return out;
  }

  Bytes command(uint32_t msg_stream_id, std::vector<Amf0> values, uint32_t csid = 3) {
    return message(csid, RtmpType::kCommandAmf0, msg_stream_id, 0, encodeAmf0Sequence(values));
  }

  Bytes data(uint32_t msg_stream_id, std::vector<Amf0> values) {
    return message(4, RtmpType::kDataAmf0, msg_stream_id, 0, encodeAmf0Sequence(values));
  }

  // Set Chunk Size, sent with the old size; later messages use the new one.
  Bytes setChunkSize(uint32_t size) {
    Bytes payload = {static_cast<uint8_t>(size >> 24), static_cast<uint8_t>(size >> 16),
                     static_cast<uint8_t>(size >> 8), static_cast<uint8_t>(size)};
    Bytes out = message(2, RtmpType::kSetChunkSize, 0, 0, payload);
    encoder_.setChunkSize(size);
    return out;
  }

 private:
  ChunkEncoder encoder_;
};

// AVC sequence header / frame and AAC sequence header / frame tag bodies.
inline Bytes avcSequenceHeaderTag(const Bytes& sps, const Bytes& pps) {
  Bytes record = {1,
                  sps[1],
                  sps[2],
                  sps[3],
                  0xFF,
                  0xE1,
                  static_cast<uint8_t>(sps.size() >> 8),
                  static_cast<uint8_t>(sps.size())};
  record.insert(record.end(), sps.begin(), sps.end());
  record.push_back(1);
  record.push_back(static_cast<uint8_t>(pps.size() >> 8));
  record.push_back(static_cast<uint8_t>(pps.size()));
  record.insert(record.end(), pps.begin(), pps.end());
  return concat({bytesOf({0x17, 0, 0, 0, 0}), record});
}

inline Bytes avcFrameTag(bool keyframe, int32_t composition_ms, const Bytes& nal_unit) {
  const auto cts = static_cast<uint32_t>(composition_ms) & 0xFFFFFF;
  const auto n = static_cast<uint32_t>(nal_unit.size());
  return concat(
      {Bytes{static_cast<uint8_t>(keyframe ? 0x17 : 0x27), 1, static_cast<uint8_t>(cts >> 16),
             static_cast<uint8_t>(cts >> 8), static_cast<uint8_t>(cts),
             static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
             static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)},
       nal_unit});
}

inline Bytes aacSequenceHeaderTag() { return bytesOf({0xAF, 0, 0x12, 0x10}); }  // LC 44.1k stereo
inline Bytes aacFrameTag(const Bytes& frame) { return concat({bytesOf({0xAF, 1}), frame}); }

// Real parameter sets from libx264 (1280x720 High profile).
inline const Bytes kSps720p = fromHex("6764001facd9405005bb011000000300100000030320f1831960");
inline const Bytes kPps720p = fromHex("68ebe3cb22c0");

// The scripted encoder: what ffmpeg sends to publish rtmp://127.0.0.1/live/KEY?token=abc.
class ScriptedEncoder {
 public:
  Bytes handshake(bool digest = true) {
    return concat({digest ? digestC0C1(1) : plainC0C1(), Bytes(1536, 0)});
  }
  Bytes connect(double object_encoding = 0) {
    return w.command(0, {Amf0::string("connect"), Amf0::number(1),
                         Amf0::object({{"app", Amf0::string("live")},
                                       {"type", Amf0::string("nonprivate")},
                                       {"flashVer", Amf0::string("FMLE/3.0 (compatible; Lavf59)")},
                                       {"tcUrl", Amf0::string("rtmp://127.0.0.1:1935/live")},
                                       {"objectEncoding", Amf0::number(object_encoding)}})});
  }
  Bytes prepare() {
    return concat({w.command(0, {Amf0::string("releaseStream"), Amf0::number(2), Amf0::null(),
                                 Amf0::string("KEY")}),
                   w.command(0, {Amf0::string("FCPublish"), Amf0::number(3), Amf0::null(),
                                 Amf0::string("KEY")}),
                   w.command(0, {Amf0::string("createStream"), Amf0::number(4), Amf0::null()})});
  }
  Bytes publish(std::string name = "KEY?token=abc") {
    return w.command(1,
                     {Amf0::string("publish"), Amf0::number(5), Amf0::null(),
                      Amf0::string(std::move(name)), Amf0::string("live")},
                     8);
  }
  Bytes metadata() {
    return w.data(1, {Amf0::string("@setDataFrame"), Amf0::string("onMetaData"),
                      Amf0::ecmaArray({{"width", Amf0::number(1280)},
                                       {"height", Amf0::number(720)},
                                       {"videocodecid", Amf0::number(7)}})});
  }
  Bytes video(uint32_t ts, Bytes body) {
    return w.message(6, RtmpType::kVideo, 1, ts, std::move(body));
  }
  Bytes audio(uint32_t ts, Bytes body) {
    return w.message(4, RtmpType::kAudio, 1, ts, std::move(body));
  }
  Bytes media() {
    return concat(
        {video(0, avcSequenceHeaderTag(kSps720p, kPps720p)), audio(0, aacSequenceHeaderTag()),
         video(0, avcFrameTag(true, 0, Bytes(3000, 0x65))), audio(23, aacFrameTag(Bytes(300, 1))),
         video(33, avcFrameTag(false, 33, Bytes(500, 0x41))),
         audio(46, aacFrameTag(Bytes(300, 2)))});
  }
  Bytes unpublish() {
    return concat({w.command(1, {Amf0::string("FCUnpublish"), Amf0::number(6), Amf0::null(),
                                 Amf0::string("KEY")}),
                   w.command(1, {Amf0::string("deleteStream"), Amf0::number(7), Amf0::null(),
                                 Amf0::number(1)})});
  }
  ChunkWriter w;
};

// Decodes everything the server sent after S0 S1 S2 into messages.
inline std::vector<RtmpMessage> decodeServerMessages(const Bytes& server_bytes,
                                                     size_t skip_bytes = 1 + 2 * 1536) {
  ChunkDecoder decoder;
  Bytes rest(server_bytes.begin() + static_cast<ptrdiff_t>(skip_bytes), server_bytes.end());
  auto result = decoder.feed(rest);
  if (auto* messages = std::get_if<std::vector<RtmpMessage>>(&result)) return *messages;
  return {};
}

// The AMF0 values of a command message.
inline std::vector<Amf0> commandValues(const RtmpMessage& message) {
  auto decoded = decodeAmf0Sequence(message.payload);
  if (auto* values = std::get_if<std::vector<Amf0>>(&decoded)) return *values;
  return {};
}

}  // namespace bloomcast::ingest::testing
