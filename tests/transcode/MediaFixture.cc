#include "MediaFixture.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>

#include "TestSupport.h"

namespace bloomcast::transcode::test {
namespace {

std::string key(const StreamSpec& s) {
  std::ostringstream k;
  k << s.width << "x" << s.height << "_" << s.fps << "fps_" << s.seconds << "s_g" << s.gop_frames
    << "_b" << s.bframes << (s.audio ? "_a" : "_na");
  return k.str();
}

std::vector<uint8_t> readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

std::string generateStream(const StreamSpec& spec) {
  static std::mutex mutex;
  static bloomcast::test::TempDir dir;  // removed at exit
  static std::map<std::string, std::string> made;
  std::lock_guard lock(mutex);
  std::string k = key(spec);
  if (auto it = made.find(k); it != made.end()) return it->second;
  std::string path = dir.path() + "/" + k + ".flv";
  std::vector<std::string> argv = {"ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                                   "-f", "lavfi", "-i",
                                   "testsrc2=size=" + std::to_string(spec.width) + "x" +
                                       std::to_string(spec.height) + ":rate=" + std::to_string(spec.fps)};
  if (spec.audio)
    for (std::string a : {"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"}) argv.push_back(a);
  argv.push_back("-t");
  argv.push_back(std::to_string(spec.seconds));
  for (std::string a : {"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-sc_threshold", "0"})
    argv.push_back(a);
  for (std::string a : {"-g", "-keyint_min"}) {
    argv.push_back(a);
    argv.push_back(std::to_string(spec.gop_frames));
  }
  argv.push_back("-bf");
  argv.push_back(std::to_string(spec.bframes));
  if (spec.audio)
    for (std::string a : {"-c:a", "aac", "-b:a", "64k"}) argv.push_back(a);
  argv.push_back("-f");
  argv.push_back("flv");
  argv.push_back(path);
  bloomcast::test::Process ffmpeg(argv);
  int status = ffmpeg.wait(std::chrono::seconds(120));
  EXPECT_EQ(status, 0) << ffmpeg.output();
  made[k] = path;
  return path;
}

std::vector<MediaPacketPtr> readMediaPackets(const std::string& path) {
  std::vector<MediaPacketPtr> out;
  AVFormatContext* in = nullptr;
  if (avformat_open_input(&in, path.c_str(), nullptr, nullptr) < 0) {
    ADD_FAILURE() << "cannot open " << path;
    return out;
  }
  avformat_find_stream_info(in, nullptr);
  for (unsigned i = 0; i < in->nb_streams; ++i) {
    const AVCodecParameters* par = in->streams[i]->codecpar;
    auto config = std::make_shared<MediaPacket>();
    config->type = par->codec_type == AVMEDIA_TYPE_VIDEO ? MediaType::kVideo : MediaType::kAudio;
    config->is_config = true;
    config->data.assign(par->extradata, par->extradata + par->extradata_size);
    out.push_back(config);
  }
  AVPacket* pkt = av_packet_alloc();
  while (av_read_frame(in, pkt) >= 0) {
    AVStream* st = in->streams[pkt->stream_index];
    auto p = std::make_shared<MediaPacket>();
    p->type = st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO ? MediaType::kVideo : MediaType::kAudio;
    p->keyframe = p->type == MediaType::kAudio || (pkt->flags & AV_PKT_FLAG_KEY);
    p->dts_ms = av_rescale_q(pkt->dts, st->time_base, AVRational{1, 1000});
    p->pts_ms = av_rescale_q(pkt->pts, st->time_base, AVRational{1, 1000});
    p->data.assign(pkt->data, pkt->data + pkt->size);
    out.push_back(p);
    av_packet_unref(pkt);
  }
  av_packet_free(&pkt);
  avformat_close_input(&in);
  return out;
}

std::vector<MediaPacketPtr> shiftTimestamps(const std::vector<MediaPacketPtr>& packets, int64_t offset_ms) {
  std::vector<MediaPacketPtr> out;
  for (const auto& p : packets) {
    if (p->is_config) {
      out.push_back(p);
      continue;
    }
    auto q = std::make_shared<MediaPacket>(*p);
    q->dts_ms += offset_ms;
    q->pts_ms += offset_ms;
    out.push_back(q);
  }
  return out;
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

MediaPlaylist readPlaylist(const std::string& path) {
  auto parsed = parseMediaPlaylist(readText(path));
  EXPECT_TRUE(parsed.has_value()) << path << ": " << (parsed ? "" : parsed.error().message);
  return parsed ? *parsed : MediaPlaylist{};
}

SegmentProbe probeSegment(const std::string& init_path, const std::string& segment_path) {
  SegmentProbe probe;
  std::string joined = segment_path + ".joined.mp4";
  {
    std::ofstream out(joined, std::ios::binary);
    auto a = readBytes(init_path);
    auto b = readBytes(segment_path);
    out.write(reinterpret_cast<const char*>(a.data()), static_cast<std::streamsize>(a.size()));
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  AVFormatContext* in = nullptr;
  if (avformat_open_input(&in, joined.c_str(), nullptr, nullptr) < 0) return probe;
  avformat_find_stream_info(in, nullptr);
  probe.opened = true;
  int video = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  int audio = av_find_best_stream(in, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  probe.has_audio = audio >= 0;
  AVCodecContext* dec = nullptr;
  if (video >= 0) {
    const AVCodecParameters* par = in->streams[video]->codecpar;
    probe.width = par->width;
    probe.height = par->height;
    const AVCodec* codec = avcodec_find_decoder(par->codec_id);
    dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec, par);
    avcodec_open2(dec, codec, nullptr);
  }
  AVPacket* pkt = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  auto drain = [&] {
    while (avcodec_receive_frame(dec, frame) == 0) {
      ++probe.decoded_frames;
      if (frame->decode_error_flags) ++probe.decode_errors;
    }
  };
  while (av_read_frame(in, pkt) >= 0) {
    if (pkt->stream_index == video) {
      if (probe.video_packets++ == 0) probe.starts_with_keyframe = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
      if (avcodec_send_packet(dec, pkt) < 0) ++probe.decode_errors;
      drain();
    } else if (pkt->stream_index == audio) {
      ++probe.audio_packets;
    }
    av_packet_unref(pkt);
  }
  if (dec) {
    avcodec_send_packet(dec, nullptr);
    drain();
  }
  av_frame_free(&frame);
  av_packet_free(&pkt);
  avcodec_free_context(&dec);
  avformat_close_input(&in);
  std::filesystem::remove(joined);
  return probe;
}

int64_t videoFragmentTime(const std::string& segment_path) {
  std::vector<uint8_t> b = readBytes(segment_path);
  auto u32 = [&](std::size_t at) {
    return (uint32_t(b[at]) << 24) | (uint32_t(b[at + 1]) << 16) | (uint32_t(b[at + 2]) << 8) | b[at + 3];
  };
  // moof > traf > (tfhd track_ID, tfdt baseMediaDecodeTime); track 1 is video.
  std::function<int64_t(std::size_t, std::size_t, uint32_t&)> walk = [&](std::size_t at, std::size_t end,
                                                                         uint32_t& track) -> int64_t {
    while (at + 8 <= end) {
      uint32_t size = u32(at);
      std::string type(reinterpret_cast<const char*>(&b[at + 4]), 4);
      if (size < 8 || at + size > end) return -1;
      if (type == "moof" || type == "traf") {
        uint32_t t = 0;
        if (int64_t v = walk(at + 8, at + size, t); v >= 0) return v;
      } else if (type == "tfhd") {
        track = u32(at + 12);
      } else if (type == "tfdt" && track == 1) {
        bool v1 = b[at + 8] == 1;
        return v1 ? (int64_t(u32(at + 12)) << 32) | u32(at + 16) : int64_t(u32(at + 12));
      }
      at += size;
    }
    return -1;
  };
  uint32_t track = 0;
  return walk(0, b.size(), track);
}

PlaybackResult play(const std::string& url) {
  PlaybackResult result;
  AVFormatContext* in = nullptr;
  if (avformat_open_input(&in, url.c_str(), nullptr, nullptr) < 0) return result;
  if (avformat_find_stream_info(in, nullptr) < 0) {
    avformat_close_input(&in);
    return result;
  }
  result.opened = true;
  int video = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  const AVCodecParameters* par = in->streams[video]->codecpar;
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  AVCodecContext* dec = avcodec_alloc_context3(codec);
  avcodec_parameters_to_context(dec, par);
  avcodec_open2(dec, codec, nullptr);
  AVPacket* pkt = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  bool first = true;
  AVRational tb = in->streams[video]->time_base;
  auto drain = [&] {
    while (avcodec_receive_frame(dec, frame) == 0) {
      ++result.video_frames;
      if (frame->decode_error_flags) ++result.decode_errors;
      double t = frame->best_effort_timestamp * av_q2d(tb);
      if (first) result.first_pts_s = t;
      first = false;
      result.last_pts_s = std::max(result.last_pts_s, t);
    }
  };
  while (av_read_frame(in, pkt) >= 0) {
    if (pkt->stream_index == video) {
      if (avcodec_send_packet(dec, pkt) < 0) ++result.decode_errors;
      drain();
    } else if (in->streams[pkt->stream_index]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
      ++result.audio_packets;
    }
    av_packet_unref(pkt);
  }
  avcodec_send_packet(dec, nullptr);
  drain();
  av_frame_free(&frame);
  av_packet_free(&pkt);
  avcodec_free_context(&dec);
  avformat_close_input(&in);
  return result;
}

}  // namespace bloomcast::transcode::test
