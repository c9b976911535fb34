// lib/tcp/ring.hpp: the fixed-capacity byte ring a connection uses for its send and receive
// buffers. Storage is either the ring's own (allocated once, when the connection is built) or
// borrowed from the Stack's connection slot, which keeps it from one connection to the next
// so opening a connection costs no allocation; reads and writes on the per-segment path only
// copy.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace twtcp::tcp {

class ByteRing {
 public:
  // Owns `capacity` bytes. Not zero-filled: only bytes written are ever read.
  explicit ByteRing(std::size_t capacity)
      : owned_(capacity ? std::make_unique_for_overwrite<std::uint8_t[]>(capacity) : nullptr),
        buf_(owned_.get()),
        cap_(capacity) {}
  // Uses `storage`, which must outlive the ring.
  explicit ByteRing(std::span<std::uint8_t> storage) : buf_(storage.data()), cap_(storage.size()) {}

  [[nodiscard]] std::size_t capacity() const noexcept { return cap_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t free() const noexcept { return cap_ - size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

  // Appends as much of `data` as fits; returns the bytes taken.
  std::size_t write(std::span<const std::uint8_t> data) noexcept {
    return commit(write_at(0, data));
  }

  // Writes `data` `offset` bytes past the tail without making it readable: out-of-order bytes
  // wait there until commit() takes them in. Writes only what fits in the free space; returns
  // the bytes written (from the front of `data`).
  std::size_t write_at(std::size_t offset, std::span<const std::uint8_t> data) noexcept {
    if (offset >= free()) return 0;
    const std::size_t n = std::min(data.size(), free() - offset);
    std::size_t pos = (head_ + size_ + offset) % cap_;
    std::size_t done = 0;
    while (done < n) {
      const std::size_t chunk = std::min(n - done, cap_ - pos);
      std::memcpy(buf_ + pos, data.data() + done, chunk);
      done += chunk;
      pos = 0;
    }
    return n;
  }

  // Makes n bytes past the tail, written earlier by write_at(), readable; returns the bytes taken.
  std::size_t commit(std::size_t n) noexcept {
    n = std::min(n, free());
    size_ += n;
    return n;
  }

  // Copies up to out.size() bytes starting `offset` bytes past the head, without consuming.
  [[nodiscard]] std::size_t peek(std::size_t offset, std::span<std::uint8_t> out) const noexcept {
    if (offset >= size_) return 0;
    const std::size_t n = std::min(out.size(), size_ - offset);
    std::size_t pos = (head_ + offset) % cap_;
    std::size_t done = 0;
    while (done < n) {
      const std::size_t chunk = std::min(n - done, cap_ - pos);
      std::memcpy(out.data() + done, buf_ + pos, chunk);
      done += chunk;
      pos = 0;
    }
    return n;
  }

  // Drops up to n bytes from the head; returns the bytes dropped.
  std::size_t consume(std::size_t n) noexcept {
    n = std::min(n, size_);
    if (n) head_ = (head_ + n) % cap_;
    size_ -= n;
    return n;
  }

  std::size_t read(std::span<std::uint8_t> out) noexcept { return consume(peek(0, out)); }

  void clear() noexcept { head_ = size_ = 0; }

  // Moves the readable bytes into new storage of `capacity` bytes (owned from now on; a
  // borrowed buffer is left to its owner). For the send buffer only: bytes written past the
  // tail with write_at() and not committed are not carried over. Never shrinks.
  void grow(std::size_t capacity) {
    if (capacity <= cap_) return;
    auto bigger = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
    const std::size_t n = peek(0, {bigger.get(), size_});
    owned_ = std::move(bigger);
    buf_ = owned_.get();
    cap_ = capacity;
    head_ = 0;
    size_ = n;
  }

 private:
  std::unique_ptr<std::uint8_t[]> owned_;  // empty when the storage is borrowed
  std::uint8_t* buf_ = nullptr;
  std::size_t cap_ = 0;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace twtcp::tcp
