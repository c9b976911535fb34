// app/common/histogram.hpp: a log-linear latency histogram (HdrHistogram-style: 64 linear
// sub-buckets per power of two, so every value is kept to within 1/64 = 1.6 %), fixed size,
// no allocation per sample; percentiles walk the buckets.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace twtcp::app {

class Histogram {
 public:
  static constexpr unsigned kSubBits = 6;
  static constexpr unsigned kSub = 1u << kSubBits;
  static constexpr unsigned kMagnitudes = 40;  // values up to 2^46 µs (2.2 years)

  void record(std::uint64_t v) noexcept {
    ++buckets_[index(v)];
    ++count_;
    if (v > max_) max_ = v;
    if (count_ == 1 || v < min_) min_ = v;
    sum_ += v;
  }
  // Adds another histogram's samples (the lcores' histograms make the run's).
  void merge(const Histogram& o) noexcept {
    for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
    if (o.count_ != 0) {
      min_ = count_ == 0 ? o.min_ : (o.min_ < min_ ? o.min_ : min_);
      if (o.max_ > max_) max_ = o.max_;
    }
    count_ += o.count_;
    sum_ += o.sum_;
  }
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
  [[nodiscard]] double mean() const noexcept {
    return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0;
  }
  // The smallest recorded bucket value v such that at least q of the samples are <= v
  // (reported as the bucket's upper bound, capped at max()). 0 with no samples.
  [[nodiscard]] std::uint64_t percentile(double q) const noexcept {
    if (count_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_) + 0.999999);
    std::uint64_t seen = 0;
    for (unsigned i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen >= (rank == 0 ? 1 : rank)) {
        const std::uint64_t hi = upper(i);
        return hi < max_ ? hi : max_;
      }
    }
    return max_;
  }

  [[nodiscard]] static unsigned index(std::uint64_t v) noexcept {
    if (v < kSub) return static_cast<unsigned>(v);
    const unsigned mag = static_cast<unsigned>(std::bit_width(v)) - kSubBits;  // >= 1
    if (mag >= kMagnitudes) return kMagnitudes * kSub - 1;
    return mag * kSub + static_cast<unsigned>((v >> (mag - 1)) - kSub);
  }
  // Largest value that lands in bucket i.
  [[nodiscard]] static std::uint64_t upper(unsigned i) noexcept {
    const unsigned mag = i / kSub, sub = i % kSub;
    if (mag == 0) return sub;
    return ((std::uint64_t{kSub} + sub) << (mag - 1)) + ((std::uint64_t{1} << (mag - 1)) - 1);
  }

 private:
  std::array<std::uint64_t, kMagnitudes * kSub> buckets_{};
  std::uint64_t count_ = 0, max_ = 0, min_ = 0, sum_ = 0;
};

}  // namespace twtcp::app
