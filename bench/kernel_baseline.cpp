// twtcp-kernel-baseline: the Linux kernel doing the work the macro benchmarks give twtcp, so
// both are measured in the same run on the same cores.
//
//   cps        short connections, HTTP/1.0 style: connect, small request, small response,
//              close (by the client or by the server, i.e. TIME_WAIT on either side); one
//              epoll client process pinned to one CPU, one epoll server process pinned to
//              another, over 127.0.0.1.
//   throughput one long connection, the client writes, the server discards; bytes/s.
//
// Each run happens in a private network namespace (unshare(CLONE_NEWNET), lo brought up),
// so net.ipv4.tcp_tw_reuse and friends can be set for the run without touching the host,
// and the TIME_WAIT sockets of one run do not exhaust the next run's ports. Needs root.
// Output: one JSON object on stdout (and a human line on stderr).
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* kUsage =
    "usage: twtcp-kernel-baseline cps|throughput [options]\n"
    "  --seconds S        measuring time, 1..600 (default 5)\n"
    "  --concurrency N    connections in flight (cps), 1..10000 (default 64)\n"
    "  --close client|server  who closes first (cps; default server)\n"
    "  --tw-reuse 0|1|2   net.ipv4.tcp_tw_reuse inside the private namespace (default 2)\n"
    "  --ports LOW-HIGH   net.ipv4.ip_local_port_range there (default 32768-60999)\n"
    "  --client-cpu N --server-cpu N   pinning (default 0 and 1)\n"
    "  --response-bytes N (cps; default 128)\n"
    "Runs in a private network namespace on 127.0.0.1 (root). Prints one JSON object.\n";

constexpr std::uint16_t kPort = 8080;
constexpr std::string_view kRequest = "GET / HTTP/1.0\r\nHost: baseline\r\n\r\n";

struct Opts {
  std::string mode;
  unsigned seconds = 5, concurrency = 64, client_cpu = 0, server_cpu = 1;
  bool client_closes = false;
  int tw_reuse = 2;
  unsigned port_low = 32768, port_high = 60999;
  unsigned response_bytes = 128;
};

int fail(const std::string& m) {
  std::fprintf(stderr, "twtcp-kernel-baseline: %s\n", m.c_str());
  return 2;
}

bool parse_uint(std::string_view s, unsigned lo, unsigned hi, unsigned& out) {
  unsigned v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void pin(unsigned cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);  // best effort: fewer CPUs than asked is fine
}

bool write_file(const char* path, const std::string& v) {
  const int fd = open(path, O_WRONLY);
  if (fd < 0) return false;
  const bool ok = write(fd, v.data(), v.size()) == static_cast<ssize_t>(v.size());
  close(fd);
  return ok;
}

// A fresh network namespace with lo up and the run's sysctls.
bool private_netns(const Opts& o, std::string& err) {
  if (unshare(CLONE_NEWNET) != 0) {
    err = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno) + " (run as root)";
    return false;
  }
  const int s = socket(AF_INET, SOCK_DGRAM, 0);
  ifreq ifr{};
  std::strcpy(ifr.ifr_name, "lo");
  ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
  const bool up = s >= 0 && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  if (s >= 0) close(s);
  if (!up) {
    err = "cannot bring lo up in the private namespace";
    return false;
  }
  if (!write_file("/proc/sys/net/ipv4/tcp_tw_reuse", std::to_string(o.tw_reuse)) ||
      !write_file("/proc/sys/net/ipv4/ip_local_port_range",
                  std::to_string(o.port_low) + " " + std::to_string(o.port_high))) {
    err = "cannot set net.ipv4 sysctls in the private namespace";
    return false;
  }
  return true;
}

// Tcp OutSegs of this network namespace (/proc/net/snmp): both ends of every loopback
// connection count there. 0 if unreadable.
std::uint64_t tcp_out_segs() {
  std::FILE* f = std::fopen("/proc/net/snmp", "r");
  if (f == nullptr) return 0;
  char names[1024], values[1024];
  std::uint64_t out = 0;
  while (std::fgets(names, sizeof names, f) != nullptr) {
    if (std::strncmp(names, "Tcp:", 4) != 0 || std::fgets(values, sizeof values, f) == nullptr) {
      continue;
    }
    // Two lines, "Tcp: Name1 Name2 ..." and "Tcp: v1 v2 ...": the column of OutSegs.
    char* ns = nullptr;
    char* vs = nullptr;
    for (char *n = strtok_r(names, " \n", &ns), *v = strtok_r(values, " \n", &vs);
         n != nullptr && v != nullptr;
         n = strtok_r(nullptr, " \n", &ns), v = strtok_r(nullptr, " \n", &vs)) {
      if (std::strcmp(n, "OutSegs") == 0) out = std::strtoull(v, nullptr, 10);
    }
    break;
  }
  std::fclose(f);
  return out;
}

int listener() {
  const int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kPort);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(l, 4096) != 0) return -1;
  return l;
}

// The server: accept, read a request, answer, close (or wait for the client's close).
[[noreturn]] void serve(const Opts& o, int l, int ready_fd) {
  pin(o.server_cpu);
  const std::string response =
      "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(o.response_bytes) + "\r\n\r\n" +
      std::string(o.response_bytes, 'x');
  const int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = l;
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  (void)!write(ready_fd, "r", 1);
  close(ready_fd);
  std::vector<epoll_event> evs(256);
  char buf[65536];
  for (;;) {
    const int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 1000);
    for (int i = 0; i < n; ++i) {
      const int fd = evs[i].data.fd;
      if (fd == l) {
        for (;;) {
          const int c = accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
          if (c < 0) break;
          epoll_event ce{};
          ce.events = EPOLLIN;
          ce.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
        }
        continue;
      }
      const ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) {
        close(fd);  // the client closed first (or reset)
        continue;
      }
      if (o.mode == "throughput") continue;  // discard
      (void)!write(fd, response.data(), response.size());
      if (!o.client_closes) close(fd);  // HTTP/1.0: the server closes first
    }
  }
}

struct Result {
  std::uint64_t ok = 0, connect_errors = 0, eaddrnotavail = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;
};

Result run_cps(const Opts& o) {
  pin(o.client_cpu);
  Result res;
  const int ep = epoll_create1(0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(kPort);
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct Conn {
    bool connected = false;
    std::size_t got = 0;
  };
  std::vector<Conn> conns(65536);
  unsigned open_now = 0;
  const double t0 = now_s(), t_end = t0 + o.seconds;
  auto start_one = [&]() {
    const int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s < 0) return false;
    if (connect(s, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
      ++res.connect_errors;
      if (errno == EADDRNOTAVAIL) ++res.eaddrnotavail;
      close(s);
      return false;
    }
    conns[static_cast<std::size_t>(s)] = Conn{};
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN;
    ev.data.fd = s;
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    ++open_now;
    return true;
  };
  std::vector<epoll_event> evs(1024);
  char buf[65536];
  double next_retry = 0;
  while (now_s() < t_end) {
    while (open_now < o.concurrency && now_s() >= next_retry) {
      if (!start_one()) {
        next_retry = now_s() + 0.001;  // ports exhausted: back off 1 ms, like a real client
        break;
      }
    }
    const int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 1);
    for (int i = 0; i < n; ++i) {
      const int fd = evs[i].data.fd;
      Conn& c = conns[static_cast<std::size_t>(fd)];
      if (evs[i].events & (EPOLLERR | EPOLLHUP) && !c.connected) {
        ++res.connect_errors;
        close(fd);
        --open_now;
        continue;
      }
      if (!c.connected && (evs[i].events & EPOLLOUT)) {
        c.connected = true;
        (void)!write(fd, kRequest.data(), kRequest.size());
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        continue;
      }
      if (evs[i].events & EPOLLIN) {
        const ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0) c.got += static_cast<std::size_t>(r);
        const bool complete = c.got >= o.response_bytes;
        if (r <= 0 || (o.client_closes && complete)) {
          if (complete) ++res.ok;
          close(fd);
          --open_now;
        }
      }
    }
  }
  res.seconds = now_s() - t0;
  return res;
}

Result run_throughput(const Opts& o) {
  pin(o.client_cpu);
  Result res;
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(kPort);
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) return res;
  static char chunk[1 << 16];
  std::memset(chunk, 'y', sizeof chunk);
  const double t0 = now_s(), t_end = t0 + o.seconds;
  while (now_s() < t_end) {
    const ssize_t w = write(s, chunk, sizeof chunk);
    if (w <= 0) break;
    res.bytes += static_cast<std::uint64_t>(w);
  }
  res.seconds = now_s() - t0;
  res.ok = 1;
  close(s);
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  Opts o;
  if (argc < 2) return fail("needs cps or throughput (see --help)");
  const std::string_view first = argv[1];
  if (first == "--help" || first == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (first != "cps" && first != "throughput") {
    return fail("unknown mode '" + std::string(first) + "' (cps or throughput)");
  }
  o.mode = first;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    auto need = [&](unsigned lo, unsigned hi, unsigned& out) {
      if (!v || !parse_uint(v, lo, hi, out)) return false;
      ++i;
      return true;
    };
    unsigned tmp = 0;
    if (a == "--seconds") {
      if (!need(1, 600, o.seconds)) return fail("--seconds needs 1..600");
    } else if (a == "--concurrency") {
      if (!need(1, 10000, o.concurrency)) return fail("--concurrency needs 1..10000");
    } else if (a == "--client-cpu") {
      if (!need(0, 1023, o.client_cpu)) return fail("--client-cpu needs a CPU number");
    } else if (a == "--server-cpu") {
      if (!need(0, 1023, o.server_cpu)) return fail("--server-cpu needs a CPU number");
    } else if (a == "--response-bytes") {
      if (!need(1, 1 << 20, o.response_bytes)) return fail("--response-bytes needs 1..1048576");
    } else if (a == "--tw-reuse") {
      if (!need(0, 2, tmp)) return fail("--tw-reuse needs 0, 1 or 2");
      o.tw_reuse = static_cast<int>(tmp);
    } else if (a == "--close") {
      if (!v || (std::string_view(v) != "client" && std::string_view(v) != "server")) {
        return fail("--close needs client or server");
      }
      o.client_closes = std::string_view(v) == "client";
      ++i;
    } else if (a == "--ports") {
      const std::string_view s = v ? v : "";
      const auto dash = s.find('-');
      if (dash == std::string_view::npos || !parse_uint(s.substr(0, dash), 1, 65535, o.port_low) ||
          !parse_uint(s.substr(dash + 1), 1, 65535, o.port_high) || o.port_low > o.port_high) {
        return fail("--ports needs LOW-HIGH within 1..65535");
      }
      ++i;
    } else {
      return fail("unknown argument '" + std::string(a) + "' (see --help)");
    }
  }
  std::string err;
  if (!private_netns(o, err)) {
    std::fprintf(stderr, "twtcp-kernel-baseline: %s\n", err.c_str());
    return 1;
  }
  const int l = listener();
  if (l < 0) return fail("cannot listen on 127.0.0.1:8080 in the private namespace");
  int ready[2];
  if (pipe(ready) != 0) return 1;
  const pid_t server = fork();
  if (server == 0) {
    close(ready[0]);
    serve(o, l, ready[1]);
  }
  close(ready[1]);
  char c;
  (void)!read(ready[0], &c, 1);
  close(l);
  const std::uint64_t segs_before = tcp_out_segs();
  const Result r = o.mode == "cps" ? run_cps(o) : run_throughput(o);
  kill(server, SIGKILL);
  waitpid(server, nullptr, 0);
  const std::uint64_t segs = tcp_out_segs() - segs_before;
  if (o.mode == "cps") {
    std::printf(
        "{\"mode\": \"cps\", \"close\": \"%s\", \"tw_reuse\": %d, \"concurrency\": %u, "
        "\"seconds\": %.3f, \"connections\": %llu, \"cps\": %.0f, \"connect_errors\": %llu, "
        "\"eaddrnotavail\": %llu, \"out_segs\": %llu, \"segments_per_connection\": %.2f}\n",
        o.client_closes ? "client" : "server", o.tw_reuse, o.concurrency, r.seconds,
        static_cast<unsigned long long>(r.ok), static_cast<double>(r.ok) / r.seconds,
        static_cast<unsigned long long>(r.connect_errors),
        static_cast<unsigned long long>(r.eaddrnotavail), static_cast<unsigned long long>(segs),
        r.ok ? static_cast<double>(segs) / static_cast<double>(r.ok) : 0.0);
    std::fprintf(stderr, "kernel cps: %.0f connections/s (%s closes, tw_reuse=%d)\n",
                 static_cast<double>(r.ok) / r.seconds, o.client_closes ? "client" : "server",
                 o.tw_reuse);
  } else {
    std::printf(
        "{\"mode\": \"throughput\", \"seconds\": %.3f, \"bytes\": %llu, "
        "\"bytes_per_s\": %.0f}\n",
        r.seconds, static_cast<unsigned long long>(r.bytes),
        static_cast<double>(r.bytes) / r.seconds);
    std::fprintf(stderr, "kernel throughput: %.2f Gbit/s\n",
                 static_cast<double>(r.bytes) * 8 / r.seconds / 1e9);
  }
  return r.ok > 0 ? 0 : 1;
}
