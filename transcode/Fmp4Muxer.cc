#include "transcode/Fmp4Muxer.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
}

namespace bloomcast::transcode {

std::expected<std::unique_ptr<Fmp4Muxer>, Error> Fmp4Muxer::open(
    const VideoTrackConfig& video, const std::optional<AudioTrackConfig>& audio) {
  std::unique_ptr<Fmp4Muxer> m(new Fmp4Muxer);
  AVFormatContext* raw = nullptr;
  if (int rc = avformat_alloc_output_context2(&raw, nullptr, "mp4", nullptr); rc < 0)
    return std::unexpected(avError(rc, "mp4 muxer"));
  m->ctx_.reset(raw);
  m->packet_ = makePacket();
  if (!m->packet_) return std::unexpected(Error{"out_of_memory", "mp4 muxer packet"});

  AVStream* vs = avformat_new_stream(raw, nullptr);
  if (!vs) return std::unexpected(Error{"out_of_memory", "mp4 video track"});
  vs->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
  vs->codecpar->codec_id = AV_CODEC_ID_H264;
  vs->codecpar->width = video.width;
  vs->codecpar->height = video.height;
  vs->time_base = AVRational{1, 90000};
  if (!setExtradata(vs->codecpar, video.avcc.data(), video.avcc.size()))
    return std::unexpected(Error{"out_of_memory", "mp4 video extradata"});
  m->video_index_ = vs->index;

  if (audio) {
    AVStream* as = avformat_new_stream(raw, nullptr);
    if (!as) return std::unexpected(Error{"out_of_memory", "mp4 audio track"});
    as->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
    as->codecpar->codec_id = AV_CODEC_ID_AAC;
    as->codecpar->sample_rate = audio->sample_rate;
    as->codecpar->frame_size = audio->frame_samples;
    av_channel_layout_default(&as->codecpar->ch_layout, audio->channels);
    as->time_base = AVRational{1, audio->sample_rate};
    if (!setExtradata(as->codecpar, audio->asc.data(), audio->asc.size()))
      return std::unexpected(Error{"out_of_memory", "mp4 audio extradata"});
    m->audio_index_ = as->index;
  }

  // Timestamps are ours and already non-negative: no shifting by the generic muxing layer.
  raw->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;
  if (int rc = avio_open_dyn_buf(&raw->pb); rc < 0) return std::unexpected(avError(rc, "mp4 buffer"));
  AVDictionary* options = nullptr;
  av_dict_set(&options, "movflags", "+frag_custom+empty_moov+default_base_moof+cmaf+frag_discont", 0);
  int rc = avformat_write_header(raw, &options);
  av_dict_free(&options);
  if (rc < 0) return std::unexpected(avError(rc, "mp4 header"));
  auto init = m->takeBytes();
  if (!init) return std::unexpected(init.error());
  m->init_ = std::move(*init);
  return m;
}

std::expected<std::vector<uint8_t>, Error> Fmp4Muxer::takeBytes() {
  uint8_t* bytes = nullptr;
  int size = avio_close_dyn_buf(ctx_->pb, &bytes);
  ctx_->pb = nullptr;
  std::vector<uint8_t> out(bytes, bytes + std::max(size, 0));
  av_free(bytes);
  if (int rc = avio_open_dyn_buf(&ctx_->pb); rc < 0) return std::unexpected(avError(rc, "mp4 buffer"));
  return out;
}

std::expected<void, Error> Fmp4Muxer::write(int index, std::span<const uint8_t> data, int64_t pts,
                                            int64_t dts, int64_t duration, bool keyframe,
                                            AVRational from) {
  AVStream* st = ctx_->streams[index];
  AVPacket* p = packet_.get();
  av_packet_unref(p);
  // Not reference counted: the muxer copies the bytes into its fragment buffer.
  p->data = const_cast<uint8_t*>(data.data());
  p->size = static_cast<int>(data.size());
  p->stream_index = index;
  p->pts = av_rescale_q(pts, from, st->time_base);
  p->dts = av_rescale_q(dts, from, st->time_base);
  p->duration = av_rescale_q(duration, from, st->time_base);
  p->flags = keyframe ? AV_PKT_FLAG_KEY : 0;
  int rc = av_write_frame(ctx_.get(), p);
  p->data = nullptr;
  p->size = 0;
  if (rc < 0) return std::unexpected(avError(rc, "mp4 write"));
  pending_ = true;
  return {};
}

std::expected<void, Error> Fmp4Muxer::writeVideo(std::span<const uint8_t> data, int64_t pts,
                                                 int64_t dts, int64_t duration, bool keyframe) {
  return write(video_index_, data, pts, dts, duration, keyframe, AVRational{1, 90000});
}

std::expected<void, Error> Fmp4Muxer::writeAudio(std::span<const uint8_t> data, int64_t pts,
                                                 int64_t duration) {
  if (audio_index_ < 0) return {};
  int rate = ctx_->streams[audio_index_]->codecpar->sample_rate;
  return write(audio_index_, data, pts, pts, duration, true, AVRational{1, rate});
}

std::expected<std::vector<uint8_t>, Error> Fmp4Muxer::flushFragment() {
  if (!pending_) return std::vector<uint8_t>{};
  if (int rc = av_write_frame(ctx_.get(), nullptr); rc < 0)
    return std::unexpected(avError(rc, "mp4 fragment"));
  pending_ = false;
  return takeBytes();
}

}  // namespace bloomcast::transcode
