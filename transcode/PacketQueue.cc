#include "transcode/PacketQueue.h"

namespace bloomcast::transcode {
namespace {

// Bookkeeping cost of one queued item beyond its payload.
constexpr std::size_t kItemOverheadBytes = 128;
// Codec configurations may exceed the packet bound by this much (they are a few per publish;
// the slack keeps a publisher that floods them from growing the queue without bound).
constexpr std::size_t kConfigSlack = 64;

std::size_t payloadBytes(const QueueItem& item) {
  return kItemOverheadBytes + (item.packet ? item.packet->data.size() : 0);
}

}  // namespace

PacketQueue::PacketQueue(std::size_t max_packets, std::size_t max_bytes)
    : max_packets_(max_packets), max_bytes_(max_bytes) {}

bool PacketQueue::hasRoom(std::size_t size_bytes, std::size_t num, std::size_t den) const {
  return items_.size() * den < max_packets_ * num && (bytes_ + size_bytes) * den <= max_bytes_ * num;
}

void PacketQueue::append(QueueItem item, bool urgent) {
  bytes_ += payloadBytes(item);
  items_.push_back(std::move(item));
  if (items_.size() > high_water_) high_water_ = items_.size();
  if (!worker_waiting_) return;  // busy: it takes this on its next pop()
  auto now = std::chrono::steady_clock::now();
  if (unannounced_++ == 0) first_unannounced_ = now;
  if (urgent || unannounced_ >= kWakeBatch || now - first_unannounced_ >= kWakeAfter) {
    unannounced_ = 0;
    items_ready_.notify_one();
  }
}

bool PacketQueue::tryPush(QueueItem item) {
  std::lock_guard lock(mutex_);
  if (closed_ || !item.packet) return false;
  const MediaPacket& p = *item.packet;
  if (p.is_config) {
    if (items_.size() >= max_packets_ + kConfigSlack) return false;
    append(std::move(item), true);
    return true;
  }
  bool video = p.type == MediaType::kVideo;
  if (video) seen_video_ = true;
  std::size_t size = payloadBytes(item);
  if (dropping_) {
    bool restart_point = video ? p.keyframe : !seen_video_;
    if (!restart_point || !hasRoom(size, 3, 4)) {
      ++dropped_;
      return false;
    }
    dropping_ = false;
    item.after_gap = true;
  } else if (!hasRoom(size, 1, 1)) {
    dropping_ = true;
    ++dropped_;
    return false;
  }
  append(std::move(item), false);
  return true;
}

void PacketQueue::pushControl(QueueItem item) {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  if (item.kind == QueueItem::Kind::kBeginPublish) {
    dropping_ = false;
    seen_video_ = false;
  }
  append(std::move(item), true);
}

bool PacketQueue::pushWait(QueueItem item) {
  std::unique_lock lock(mutex_);
  std::size_t size = payloadBytes(item);
  room_ready_.wait(lock, [&] { return closed_ || items_.empty() || hasRoom(size, 1, 1); });
  if (closed_) return false;
  append(std::move(item), true);  // a feeder that waits for room wants the worker going
  return true;
}

std::optional<QueueItem> PacketQueue::pop(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (items_.empty() && !closed_) {
    worker_waiting_ = true;
    unannounced_ = 0;
    items_ready_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); });
    worker_waiting_ = false;
  }
  if (items_.empty()) return std::nullopt;  // closed and drained
  QueueItem item = std::move(items_.front());
  items_.pop_front();
  bytes_ -= payloadBytes(item);
  room_ready_.notify_all();
  return item;
}

void PacketQueue::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  items_ready_.notify_all();
  room_ready_.notify_all();
}

bool PacketQueue::drained() const {
  std::lock_guard lock(mutex_);
  return closed_ && items_.empty();
}

std::size_t PacketQueue::depth() const {
  std::lock_guard lock(mutex_);
  return items_.size();
}

bool PacketQueue::workerWaiting() const {
  std::lock_guard lock(mutex_);
  return worker_waiting_;
}

std::size_t PacketQueue::highWater() const {
  std::lock_guard lock(mutex_);
  return high_water_;
}

uint64_t PacketQueue::droppedFrames() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace bloomcast::transcode
