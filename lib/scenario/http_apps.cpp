// lib/scenario/http_apps.cpp: the request/response applications of the stories.
#include <array>
#include <cstring>

#include "scenario/scenarios.hpp"

namespace twtcp::scenario {
namespace {
constexpr std::string_view kRequest = "GET / HTTP/1.0\r\nHost: twtcp\r\n\r\n";
constexpr std::string_view kResponse =
    "HTTP/1.0 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n";

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
}  // namespace

void serve_http_close_first(StackHost& host, std::uint16_t port) {
  Callbacks cb;
  cb.on_readable = [&host](ConnId id) {
    std::array<std::uint8_t, 2048> buf;
    std::size_t got = 0;
    while (std::size_t n = host.stack().recv(id, buf)) got += n;
    if (got == 0) return;
    host.stack().send(id, bytes(kResponse));
    host.stack().close(id);  // HTTP/1.0: the server closes first
  };
  cb.on_peer_closed = [&host](ConnId id) { host.stack().close(id); };
  host.stack().listen(port, cb);
}

int start_fetch(StackHost& host, std::uint64_t now, std::uint32_t server_addr,
                std::uint16_t server_port, Fetch& fetch, std::uint16_t local_port) {
  fetch = Fetch{};
  fetch.started_us = now;
  ConnectOptions o;
  o.local_port = local_port;
  // The callbacks run inside Stack calls, at the host's last_time().
  o.callbacks.on_connected = [&host, &fetch](ConnId id) {
    fetch.connected_us = host.last_time();
    host.stack().send(id, bytes(kRequest));
  };
  o.callbacks.on_readable = [&host, &fetch](ConnId id) {
    std::array<std::uint8_t, 2048> buf;
    while (std::size_t n = host.stack().recv(id, buf)) fetch.response_bytes += n;
  };
  o.callbacks.on_peer_closed = [&host](ConnId id) { host.stack().close(id); };
  o.callbacks.on_closed = [&host, &fetch](ConnId, CloseReason why) {
    if (why == CloseReason::kNormal && fetch.connected_us) {
      fetch.finished_us = host.last_time();
    } else {
      fetch.failed = why;
    }
  };
  const ConnectResult r =
      host.act(now, [&](Stack& st) { return st.connect(server_addr, server_port, o); });
  if (!r.ok()) fetch.failed = CloseReason::kNone;
  return r.error;
}

}  // namespace twtcp::scenario
