#include "transcode/Libav.h"

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
}

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

namespace bloomcast::transcode {

void AvFormatOutputDeleter::operator()(AVFormatContext* ctx) const {
  if (ctx->pb) {
    // Output contexts here always write into a dynamic memory buffer (Fmp4Muxer).
    uint8_t* bytes = nullptr;
    avio_close_dyn_buf(ctx->pb, &bytes);
    av_free(bytes);
    ctx->pb = nullptr;
  }
  avformat_free_context(ctx);
}

AvFramePtr makeFrame() { return AvFramePtr(av_frame_alloc()); }
AvPacketPtr makePacket() { return AvPacketPtr(av_packet_alloc()); }

Error avError(int code, std::string_view context) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  std::string name = "libav";
  if (code == AVERROR(ENOMEM)) name = "out_of_memory";
  else if (code == AVERROR_INVALIDDATA) name = "invalid_data";
  else if (code == AVERROR(ENOSPC)) name = "disk_full";
  else if (code == AVERROR(EIO)) name = "io_error";
  else if (code == AVERROR_ENCODER_NOT_FOUND || code == AVERROR_DECODER_NOT_FOUND ||
           code == AVERROR_MUXER_NOT_FOUND)
    name = "codec_not_found";
  else if (code == AVERROR_EOF) name = "end_of_stream";
  return Error{name, std::string(context) + ": " + text};
}

namespace {

template <class T>
bool setExtradataImpl(T* target, const uint8_t* bytes, std::size_t size) {
  av_freep(&target->extradata);
  target->extradata_size = 0;
  if (size == 0) return true;
  target->extradata = static_cast<uint8_t*>(av_mallocz(size + AV_INPUT_BUFFER_PADDING_SIZE));
  if (!target->extradata) return false;
  std::memcpy(target->extradata, bytes, size);
  target->extradata_size = static_cast<int>(size);
  return true;
}

void logCallback(void* avcl, int level, const char* fmt, va_list args) {
  if (level > AV_LOG_WARNING) return;
  char line[1024];
  static thread_local int print_prefix = 1;
  av_log_format_line2(avcl, level, fmt, args, line, sizeof line, &print_prefix);
  std::size_t n = std::strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  if (n == 0) return;
  if (level <= AV_LOG_ERROR) spdlog::error("libav: {}", line);
  else spdlog::warn("libav: {}", line);
}

}  // namespace

bool setExtradata(AVCodecParameters* par, const uint8_t* bytes, std::size_t size) {
  return setExtradataImpl(par, bytes, size);
}
bool setExtradata(AVCodecContext* ctx, const uint8_t* bytes, std::size_t size) {
  return setExtradataImpl(ctx, bytes, size);
}

void routeLibavLogging() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(logCallback); });
}

}  // namespace bloomcast::transcode
