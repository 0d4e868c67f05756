// clock.h — the time as the ticket engine sees it. Injected, so every rule with a date or a
// deadline is testable with a fixed clock.
#pragma once

#include <ctime>

#include "storage/store.h"

namespace atendd {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

class SystemClock : public Clock {
 public:
  Timestamp now() const override { return static_cast<Timestamp>(std::time(nullptr)); }
};

class FixedClock : public Clock {
 public:
  explicit FixedClock(Timestamp at) : at_(at) {}
  Timestamp now() const override { return at_; }
  void advance(Timestamp seconds) { at_ += seconds; }
 private:
  Timestamp at_;
};

}  // namespace atendd
