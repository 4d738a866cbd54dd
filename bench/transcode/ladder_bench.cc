// bloomcast_hls_ladder_bench: one StreamPipeline fed from an FLV file, the way ingest feeds it
// (AVCC + avcC, raw AAC + AudioSpecificConfig, millisecond timestamps), either as fast as the
// pipeline takes it or paced at real time (a live publisher). Prints wall time, CPU time of
// the process, speed against real time and, paced, the largest lag the pipeline reported.
//
//   bloomcast_hls_ladder_bench FILE.flv OUT_DIR [--live] [--encoder-threads N]
//                              [--decoder-threads N] RENDITION...
extern "C" {
#include <libavformat/avformat.h>
}

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "transcode/StreamPipeline.h"

using namespace bloomcast;
using namespace bloomcast::transcode;
using Clock = std::chrono::steady_clock;

namespace {

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::vector<MediaPacketPtr> readPackets(const char* path, double& media_s) {
  std::vector<MediaPacketPtr> out;
  AVFormatContext* in = nullptr;
  if (avformat_open_input(&in, path, nullptr, nullptr) < 0 || avformat_find_stream_info(in, nullptr) < 0) {
    std::fprintf(stderr, "cannot read %s\n", path);
    std::exit(1);
  }
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
    media_s = std::max(media_s, static_cast<double>(p->pts_ms) / 1000.0);
    p->data.assign(pkt->data, pkt->data + pkt->size);
    out.push_back(std::move(p));
    av_packet_unref(pkt);
  }
  av_packet_free(&pkt);
  avformat_close_input(&in);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s FILE.flv OUT_DIR [--live] [--encoder-threads N] [--decoder-threads N] RENDITION...\n", argv[0]);
    return 2;
  }
  PipelineOptions options;
  options.dir = argv[2];
  bool live = false;
  std::vector<std::string> renditions;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--live") live = true;
    else if (a == "--encoder-threads" && i + 1 < argc) options.transcoder.encoder_threads = std::atoi(argv[++i]);
    else if (a == "--decoder-threads" && i + 1 < argc) options.transcoder.decoder_threads = std::atoi(argv[++i]);
    else renditions.push_back(a);
  }
  auto ladder = parseLadder(renditions);
  if (!ladder) {
    std::fprintf(stderr, "%s\n", ladder.error().message.c_str());
    return 2;
  }
  options.ladder = *ladder;
  if (!live) {
    // As fast as possible: the feeder waits for room; a short queue keeps the lag measure honest
    // and the degrade policy out of the way.
    options.queue_packets = 64;
    options.max_lag_ms = 1'000'000'000;
  }
  double media_s = 0;
  auto packets = readPackets(argv[1], media_s);
  MetricsRegistry metrics;
  int64_t max_lag_ms = 0;
  double cpu0 = cpuSeconds();
  auto t0 = Clock::now();
  PipelineStatus status;
  {
    StreamPipeline pipeline("bench", options, metrics);
    StreamDescription d;
    d.stream_id = "bench";
    pipeline.beginPublish(d);
    auto sampled = t0;
    for (const auto& p : packets) {
      if (!live) {
        pipeline.pushPacketWait(p);
        continue;
      }
      if (!p->is_config) std::this_thread::sleep_until(t0 + std::chrono::milliseconds(p->dts_ms));
      pipeline.pushPacket(p);
      if (Clock::now() - sampled > std::chrono::milliseconds(250)) {
        sampled = Clock::now();
        max_lag_ms = std::max(max_lag_ms, pipeline.status().lag_ms);
      }
    }
    pipeline.endPublish("done");
    pipeline.finish();
    while (!pipeline.finished()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    status = pipeline.status();
  }
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = cpuSeconds() - cpu0;
  std::string names;
  for (const auto& r : status.renditions) names += (names.empty() ? "" : ",") + r;
  std::printf("bloomcast %s: %.1f s of media in %.2f s wall (%.2fx real time), %.2f s CPU "
              "(%.3f cores per live stream); renditions at the end %s, dropped frames %llu",
              live ? "live" : "fast", media_s, wall, media_s / wall, cpu, cpu / media_s, names.c_str(),
              static_cast<unsigned long long>(status.dropped_frames));
  if (live) std::printf(", largest lag seen %lld ms", static_cast<long long>(max_lag_ms));
  std::printf("\n");
  return 0;
}
