#pragma once
// Libav: the edge between bloomcast and FFmpeg's C libraries — owning handles for the libav
// objects the pipeline holds (unique_ptr with the matching free function), the mapping of
// libav error codes to named bloomcast errors, and libav's log routed into spdlog.
// Thread: any; every handle belongs to whoever holds it (a pipeline's worker thread).
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <string_view>

#include "infra/Error.h"

namespace bloomcast::transcode {

struct AvFormatOutputDeleter {
  void operator()(AVFormatContext* ctx) const;  // frees a dynamic-buffer pb too
};
struct AvCodecContextDeleter {
  void operator()(AVCodecContext* ctx) const { avcodec_free_context(&ctx); }
};
struct AvFrameDeleter {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};
struct AvPacketDeleter {
  void operator()(AVPacket* packet) const { av_packet_free(&packet); }
};
struct SwsContextDeleter {
  void operator()(SwsContext* ctx) const { sws_freeContext(ctx); }
};
struct AvParserDeleter {
  void operator()(AVCodecParserContext* ctx) const { av_parser_close(ctx); }
};

using AvFormatOutputPtr = std::unique_ptr<AVFormatContext, AvFormatOutputDeleter>;
using AvCodecContextPtr = std::unique_ptr<AVCodecContext, AvCodecContextDeleter>;
using AvFramePtr = std::unique_ptr<AVFrame, AvFrameDeleter>;
using AvPacketPtr = std::unique_ptr<AVPacket, AvPacketDeleter>;
using SwsContextPtr = std::unique_ptr<SwsContext, SwsContextDeleter>;
using AvParserPtr = std::unique_ptr<AVCodecParserContext, AvParserDeleter>;

AvFramePtr makeFrame();
AvPacketPtr makePacket();

// A libav error code as a bloomcast Error: code "out_of_memory", "invalid_data", "disk_full",
// "io_error", "codec_not_found", "end_of_stream" or "libav"; message "CONTEXT: av_strerror text".
Error avError(int code, std::string_view context);

// Copies `bytes` into a newly allocated, zero-padded libav buffer (for extradata).
// Returns false when allocation fails.
bool setExtradata(AVCodecParameters* par, const uint8_t* bytes, std::size_t size);
bool setExtradata(AVCodecContext* ctx, const uint8_t* bytes, std::size_t size);

// Routes libav's log lines into spdlog (warnings and errors only; libav is chatty below).
// Idempotent; process-wide, as av_log's callback is.
void routeLibavLogging();

}  // namespace bloomcast::transcode
