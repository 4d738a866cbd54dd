#pragma once
// PacketQueue: the bounded hand-over from the loop thread to one stream pipeline's worker.
//
// The loop side never blocks: tryPush() either queues or drops. Once a packet is refused for
// lack of room the queue keeps refusing every frame up to the next video keyframe that finds
// room again (below 3/4 of either bound), so the worker never sees a frame whose references
// were dropped; that keyframe carries `after_gap`. An audio-only publish resumes on any audio
// frame. Codec configurations and control items (begin/end of a publish, finish) are never
// dropped: a few per publish.
//
// Wake-ups are batched: a waiting worker is woken when kWakeBatch frames have arrived or the
// first of them has waited kWakeAfter, and at once for codec configurations and control items.
// Waking the worker for every frame (73 a second for 30 fps video + AAC) cost two context
// switches each — at 50 publishers the largest single item of ingest CPU — while a frame held
// back at most ~kWakeAfter plus one frame interval is nothing next to a 2 s segment.
//
// Thread: tryPush/pushControl from the loop thread, pushWait from a feeder that may block
// (benchmarks, tests), pop from the worker. One mutex guards everything; two condition
// variables wake the worker (items) and a blocked feeder (room).
// Ownership: owned by its StreamPipeline; items share their packets.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "infra/Media.h"

namespace bloomcast::transcode {

struct QueueItem {
  enum class Kind : uint8_t { kPacket, kBeginPublish, kEndPublish, kFinish };
  Kind kind = Kind::kPacket;
  MediaPacketPtr packet;           // kPacket
  bool after_gap = false;          // the first packet after the queue dropped frames
  std::chrono::steady_clock::time_point arrival{};  // when the loop handed it over
  int64_t arrival_wall_ms = 0;                      // the same moment, Unix milliseconds
  StreamDescription description;   // kBeginPublish
  std::string why;                 // kEndPublish
};

class PacketQueue {
 public:
  static constexpr std::size_t kWakeBatch = 8;
  static constexpr std::chrono::milliseconds kWakeAfter{40};

  PacketQueue(std::size_t max_packets, std::size_t max_bytes);
  PacketQueue(const PacketQueue&) = delete;
  PacketQueue& operator=(const PacketQueue&) = delete;

  // Never blocks. Returns false when the packet was dropped (full, dropping up to the next
  // keyframe, or closed).
  bool tryPush(QueueItem item);
  // Never blocks, never drops (unless closed). For control items and codec configurations.
  void pushControl(QueueItem item);
  // Waits while the queue is full, then queues. Not for the loop thread. False when closed.
  bool pushWait(QueueItem item);

  // Worker: the next item, waiting up to `timeout`. nullopt on timeout, or when the queue is
  // closed and drained.
  std::optional<QueueItem> pop(std::chrono::milliseconds timeout);

  // Refuses further pushes; pop() still hands out what is queued.
  void close();
  // Closed and nothing left to pop: the worker may exit.
  bool drained() const;

  std::size_t depth() const;
  bool workerWaiting() const;  // pop() is blocked waiting for items (tests use it to sync)
  std::size_t highWater() const;
  uint64_t droppedFrames() const;

 private:
  bool hasRoom(std::size_t size_bytes, std::size_t num, std::size_t den) const;  // mutex_ held
  // Queues; wakes a waiting worker when the batch is due or `urgent`.       // mutex_ held
  void append(QueueItem item, bool urgent);

  const std::size_t max_packets_;
  const std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::condition_variable items_ready_;
  std::condition_variable room_ready_;
  std::deque<QueueItem> items_;   // guarded by mutex_
  std::size_t bytes_ = 0;         // guarded by mutex_
  std::size_t high_water_ = 0;    // guarded by mutex_
  uint64_t dropped_ = 0;          // guarded by mutex_
  bool dropping_ = false;         // guarded by mutex_: refusing up to the next keyframe
  bool seen_video_ = false;       // guarded by mutex_: this publish has video
  bool closed_ = false;           // guarded by mutex_
  bool worker_waiting_ = false;   // guarded by mutex_: pop() is blocked on items_ready_
  std::size_t unannounced_ = 0;   // guarded by mutex_: queued while the worker waits, not woken for
  std::chrono::steady_clock::time_point first_unannounced_{};  // guarded by mutex_
};

}  // namespace bloomcast::transcode
