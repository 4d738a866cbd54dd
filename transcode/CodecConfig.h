#pragma once
// CodecConfig: what the pipeline needs to know from the publisher's codec configuration —
// the H.264 profile and level (for the master playlist's CODECS) and picture size, and the
// AAC AudioSpecificConfig (sample rate, channels, samples per frame, CODECS).
//
// Pure functions of bytes (the picture size uses libavcodec's H.264 parser over the same
// bytes). Untrusted input: lengths are checked, bad bytes give an error, never an assert.
// Thread: any.
#include <cstdint>
#include <expected>
#include <span>
#include <string>

#include "infra/Error.h"

namespace bloomcast::transcode {

struct AvcHeader {
  uint8_t profile_idc = 0;
  uint8_t constraint_flags = 0;
  uint8_t level_idc = 0;
  // RFC 6381 codec string for HLS CODECS, e.g. "avc1.64001f".
  std::string codecString() const;
};

// Profile and level from H.264 codec configuration in either form:
// - an AVCDecoderConfigurationRecord (ISO 14496-15 5.3.3.1; what RTMP carries):
//     configurationVersion(1)=1, AVCProfileIndication, profile_compatibility, AVCLevelIndication
// - Annex B parameter sets (start codes; what libx264 writes as extradata): the first SPS NAL
//   unit (type 7), whose first three payload bytes are the same three fields.
std::expected<AvcHeader, Error> parseAvcHeader(std::span<const uint8_t> config);

struct AacConfig {
  int object_type = 0;     // 2 = AAC-LC, 5 = HE-AAC (SBR), 29 = HE-AACv2 (PS)
  int sample_rate = 0;     // core sampling rate: the track's timescale
  int channels = 0;
  int frame_samples = 1024;
  std::string codecString() const { return "mp4a.40." + std::to_string(object_type); }
};

// Parses an AudioSpecificConfig (ISO 14496-3 1.6.2.1): audioObjectType, samplingFrequencyIndex
// (or an explicit 24-bit rate), channelConfiguration, the explicit SBR/PS extension, and the
// GASpecificConfig's frameLengthFlag (960 or 1024 samples per frame).
std::expected<AacConfig, Error> parseAudioSpecificConfig(std::span<const uint8_t> asc);

struct PictureSize {
  int width = 0;
  int height = 0;
};

// The picture size of an H.264 access unit in AVCC form (4-byte NAL lengths), decoded with
// its avcC record, by libavcodec's H.264 parser. An error when no SPS/slice gives a size.
std::expected<PictureSize, Error> h264PictureSize(std::span<const uint8_t> avcc,
                                                  std::span<const uint8_t> access_unit);

}  // namespace bloomcast::transcode
