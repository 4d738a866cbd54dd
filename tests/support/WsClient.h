#pragma once
// WsClients: real WebSocket clients for tests, on libwebsockets' client API with its own
// service thread. The test thread calls connect/send/pause and reads what arrived; commands
// cross to the service thread through a locked queue and lws_cancel_service().
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct lws;
struct lws_context;

namespace bloomcast::test {

class WsClients {
 public:
  WsClients();
  ~WsClients();

  // Opens ws://127.0.0.1:port/path (path includes any query); returns the client's index.
  int connect(int port, const std::string& path);
  void send(int client, const std::string& text);
  void sendBinary(int client, const std::string& bytes);
  // Stops (or resumes) reading from the socket: a slow reader.
  void setReading(int client, bool reading);
  void close(int client);

  bool waitOpen(int client, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool waitClosed(int client, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits until `pred(messages)` holds for the client's received text messages.
  bool waitFor(int client, const std::function<bool(const std::vector<std::string>&)>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<std::string> messages(int client);
  bool isOpen(int client);
  bool isClosed(int client);
  int closeCode(int client);

  // Internal (lws callback).
  struct Client {
    lws* wsi = nullptr;
    bool open = false;
    bool closed = false;
    int close_code = 0;
    bool failed = false;
    std::string partial;
    std::vector<std::string> received;
    std::deque<std::pair<std::string, bool>> outgoing;  // (bytes, binary)
    bool close_requested = false;
  };
  void onCallback(lws* wsi, int reason, void* in, std::size_t len);

 private:
  void post(std::function<void()> command);
  void serviceLoop();
  Client* clientOf(lws* wsi);

  lws_context* context_ = nullptr;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::unique_ptr<Client>> clients_;   // guarded by mu_
  std::vector<std::function<void()>> commands_;    // guarded by mu_
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace bloomcast::test
