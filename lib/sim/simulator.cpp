// lib/sim/simulator.cpp: the event loop.
#include "sim/simulator.hpp"

#include <algorithm>
#include <utility>

namespace twtcp::sim {

void Node::attach(int port, FrameSink& next, int next_port) {
  for (auto& o : outs_) {
    if (o.port == port) {
      o.sink = &next;
      o.sink_port = next_port;
      return;
    }
  }
  outs_.push_back(Out{port, &next, next_port});
}

bool Node::emit(int port, std::span<const std::uint8_t> frame, std::uint64_t now_us) {
  for (const auto& o : outs_) {
    if (o.port == port) {
      o.sink->receive(o.sink_port, frame, now_us);
      return true;
    }
  }
  return false;
}

void Simulator::schedule(std::uint64_t when_us, Action action) {
  heap_.push_back(Event{std::max(when_us, now_), next_seq_++, std::move(action)});
  std::push_heap(heap_.begin(), heap_.end(), Later{});
}

void Simulator::add_node(Node& node) {
  if (std::find(nodes_.begin(), nodes_.end(), &node) == nodes_.end()) nodes_.push_back(&node);
}

std::optional<std::uint64_t> Simulator::wakeup_of(const Node& n) const {
  auto w = n.next_wakeup();
  if (!w) return std::nullopt;
  std::uint64_t t = std::max(*w, now_);
  // Progress guarantee: never poll a node twice at the same instant.
  if (n.last_poll_ && t <= *n.last_poll_) t = *n.last_poll_ + 1;
  return t;
}

std::optional<std::uint64_t> Simulator::next_time() const {
  std::optional<std::uint64_t> t;
  if (!heap_.empty()) t = heap_.front().at;
  for (const Node* n : nodes_) {
    auto w = wakeup_of(*n);
    if (w && (!t || *w < *t)) t = w;
  }
  return t;
}

bool Simulator::step() {
  auto t = next_time();
  if (!t) return false;
  now_ = *t;
  if (!heap_.empty() && heap_.front().at <= now_) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    Event ev = std::move(heap_.back());
    heap_.pop_back();
    ev.action(now_);
    return true;
  }
  // Collect first so a node made due by another's poll waits for the next step.
  std::vector<Node*> due;
  for (Node* n : nodes_) {
    auto w = wakeup_of(*n);
    if (w && *w <= now_) due.push_back(n);
  }
  for (Node* n : due) {
    n->last_poll_ = now_;
    n->poll(now_);
  }
  return true;
}

std::size_t Simulator::run_until(std::uint64_t until_us) {
  std::size_t steps = 0;
  for (;;) {
    auto t = next_time();
    if (!t || *t > until_us) break;
    step();
    ++steps;
  }
  now_ = std::max(now_, until_us);
  return steps;
}

std::size_t Simulator::run(std::size_t max_steps) {
  std::size_t steps = 0;
  while (steps < max_steps && step()) ++steps;
  return steps;
}

}  // namespace twtcp::sim
