#include "transcode/VideoTranscoder.h"

extern "C" {
#include <libavutil/opt.h>
}

#include <spdlog/spdlog.h>

#include <cmath>

namespace bloomcast::transcode {

std::expected<std::unique_ptr<VideoTranscoder>, Error> VideoTranscoder::open(
    const VideoTrackConfig& source, const std::vector<RungTarget>& rungs,
    const TranscoderOptions& options) {
  std::unique_ptr<VideoTranscoder> t(new VideoTranscoder);
  t->decoded_ = makeFrame();
  t->packet_ = makePacket();
  if (!t->decoded_ || !t->packet_) return std::unexpected(Error{"out_of_memory", "transcoder"});

  const AVCodec* h264 = avcodec_find_decoder(AV_CODEC_ID_H264);
  if (!h264) return std::unexpected(Error{"codec_not_found", "no H.264 decoder in libavcodec"});
  t->decoder_.reset(avcodec_alloc_context3(h264));
  if (!t->decoder_ || !setExtradata(t->decoder_.get(), source.avcc.data(), source.avcc.size()))
    return std::unexpected(Error{"out_of_memory", "H.264 decoder"});
  t->decoder_->pkt_timebase = AVRational{1, 90000};
  t->decoder_->thread_count = std::max(1, options.decoder_threads);
  if (int rc = avcodec_open2(t->decoder_.get(), h264, nullptr); rc < 0)
    return std::unexpected(avError(rc, "H.264 decoder"));

  const AVCodec* x264 = avcodec_find_encoder_by_name("libx264");
  if (!x264) return std::unexpected(Error{"codec_not_found", "libavcodec has no libx264 encoder"});
  double fps = options.frame_rate > 1 && options.frame_rate < 241 ? options.frame_rate : 30;
  for (const RungTarget& target : rungs) {
    Rung r;
    r.target = target;
    r.frame = makeFrame();
    r.encoder.reset(avcodec_alloc_context3(x264));
    if (!r.frame || !r.encoder) return std::unexpected(Error{"out_of_memory", "encoder " + target.name});
    AVCodecContext* e = r.encoder.get();
    e->width = target.width;
    e->height = target.height;
    e->pix_fmt = AV_PIX_FMT_YUV420P;
    e->time_base = AVRational{1, 90000};
    e->framerate = AVRational{static_cast<int>(std::lround(fps * 1000)), 1000};
    e->sample_aspect_ratio = AVRational{1, 1};
    e->bit_rate = static_cast<int64_t>(target.video_kbps) * 1000;
    // Capped VBR for adaptive streaming: peaks at most 10% over the rate, a 2 s buffer.
    e->rc_max_rate = e->bit_rate * 11 / 10;
    e->rc_buffer_size = static_cast<int>(std::min<int64_t>(INT32_MAX, e->bit_rate * 2));
    e->gop_size = static_cast<int>(std::lround(fps * 10));  // a ceiling; segments force IDRs
    e->max_b_frames = 0;
    e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER | AV_CODEC_FLAG_CLOSED_GOP;
    e->thread_count = std::max(1, options.encoder_threads);
    av_opt_set(e->priv_data, "preset", options.preset.c_str(), 0);
    av_opt_set(e->priv_data, "tune", "zerolatency", 0);
    av_opt_set_int(e->priv_data, "forced-idr", 1, 0);
    av_opt_set(e->priv_data, "x264-params", "scenecut=0:open-gop=0", 0);
    if (int rc = avcodec_open2(e, x264, nullptr); rc < 0)
      return std::unexpected(avError(rc, "x264 encoder " + target.name));
    r.frame->format = AV_PIX_FMT_YUV420P;
    r.frame->width = target.width;
    r.frame->height = target.height;
    if (int rc = av_frame_get_buffer(r.frame.get(), 0); rc < 0)
      return std::unexpected(avError(rc, "frame " + target.name));
    t->rungs_.push_back(std::move(r));
  }
  return t;
}

VideoTrackConfig VideoTranscoder::trackConfig(std::size_t i) const {
  const Rung& r = rungs_[i];
  VideoTrackConfig c;
  if (r.encoder && r.encoder->extradata)
    c.avcc.assign(r.encoder->extradata, r.encoder->extradata + r.encoder->extradata_size);
  c.width = r.target.width;
  c.height = r.target.height;
  return c;
}

std::size_t VideoTranscoder::activeCount() const {
  std::size_t n = 0;
  for (const Rung& r : rungs_) n += r.encoder != nullptr;
  return n;
}

void VideoTranscoder::forceKeyframeAt(int64_t pts_90k) {
  if (force_keys_.empty() || force_keys_.back() < pts_90k) force_keys_.push_back(pts_90k);
}

void VideoTranscoder::disable(std::size_t i) {
  Rung& r = rungs_[i];
  r.encoder.reset();
  r.scaler.reset();
  r.frame.reset();
}

std::expected<void, Error> VideoTranscoder::push(std::span<const uint8_t> access_unit, int64_t pts,
                                                 int64_t dts, bool keyframe, const Output& output) {
  if (activeCount() == 0) return {};
  AVPacket* p = packet_.get();
  av_packet_unref(p);
  // Not reference counted: the decoder copies the bytes (with the padding it needs).
  p->data = const_cast<uint8_t*>(access_unit.data());
  p->size = static_cast<int>(access_unit.size());
  p->pts = pts;
  p->dts = dts;
  p->flags = keyframe ? AV_PKT_FLAG_KEY : 0;
  int rc = avcodec_send_packet(decoder_.get(), p);
  p->data = nullptr;
  p->size = 0;
  std::expected<void, Error> result;
  if (rc < 0 && rc != AVERROR(EAGAIN)) result = std::unexpected(avError(rc, "H.264 decode"));
  receiveFrames(output);
  return result;
}

void VideoTranscoder::receiveFrames(const Output& output) {
  while (true) {
    int rc = avcodec_receive_frame(decoder_.get(), decoded_.get());
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
    if (rc < 0) {
      if (decode_errors_++ % 100 == 0)
        spdlog::warn("hls: decode: {}", avError(rc, "H.264 decode").message);
      return;
    }
    encodeFrame(decoded_.get(), output);
    av_frame_unref(decoded_.get());
  }
}

void VideoTranscoder::encodeFrame(AVFrame* decoded, const Output& output) {
  int64_t pts = decoded->pts != AV_NOPTS_VALUE ? decoded->pts : decoded->best_effort_timestamp;
  if (pts == AV_NOPTS_VALUE) return;
  bool force = false;
  while (!force_keys_.empty() && force_keys_.front() <= pts) {
    force = true;
    force_keys_.pop_front();
  }
  for (std::size_t i = 0; i < rungs_.size(); ++i) {
    Rung& r = rungs_[i];
    if (!r.encoder) continue;
    if (pts <= r.last_pts) continue;  // a repeated picture time: x264 needs increasing pts
    // Reused while the decoded size and format stay; rebuilt when they change.
    r.scaler.reset(sws_getCachedContext(r.scaler.release(), decoded->width, decoded->height,
                                        static_cast<AVPixelFormat>(decoded->format), r.target.width,
                                        r.target.height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr,
                                        nullptr, nullptr));
    if (!r.scaler || av_frame_make_writable(r.frame.get()) < 0) continue;
    sws_scale(r.scaler.get(), decoded->data, decoded->linesize, 0, decoded->height, r.frame->data,
              r.frame->linesize);
    r.frame->pts = pts;
    r.frame->pict_type = force ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    r.last_pts = pts;
    if (int rc = avcodec_send_frame(r.encoder.get(), r.frame.get()); rc < 0) {
      spdlog::warn("hls: {}", avError(rc, "x264 " + r.target.name).message);
      continue;
    }
    receivePackets(i, output);
  }
}

void VideoTranscoder::receivePackets(std::size_t i, const Output& output) {
  Rung& r = rungs_[i];
  while (true) {
    int rc = avcodec_receive_packet(r.encoder.get(), packet_.get());
    if (rc < 0) return;  // EAGAIN, EOF or an error the next frame reports again
    ++r.frames;
    output(i, packet_.get());
    av_packet_unref(packet_.get());
  }
}

void VideoTranscoder::drain(const Output& output) {
  if (activeCount() == 0) return;
  avcodec_send_packet(decoder_.get(), nullptr);
  receiveFrames(output);
  for (std::size_t i = 0; i < rungs_.size(); ++i) {
    if (!rungs_[i].encoder) continue;
    avcodec_send_frame(rungs_[i].encoder.get(), nullptr);
    receivePackets(i, output);
  }
}

}  // namespace bloomcast::transcode
