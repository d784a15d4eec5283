#pragma once
// The gate of a scale point: instances that keep running once ready wait at it until
// every instance of the point is ready, failed or the deadline passed, so that all of
// them run together.
#include <condition_variable>
#include <mutex>

#include "runtime/core/clock.hpp"

namespace isolab::bench {

class ReadyGate {
public:
    explicit ReadyGate(int count) : remaining_(count) {}

    // Called once per instance, when it is ready or can no longer become ready.
    void arrive() {
        std::lock_guard lock(mutex_);
        if (remaining_ > 0) --remaining_;
        if (remaining_ == 0) all_arrived_.notify_all();
    }

    void wait_until(Clock::time_point deadline) {
        std::unique_lock lock(mutex_);
        all_arrived_.wait_until(lock, deadline, [this] { return remaining_ == 0; });
    }

private:
    std::mutex mutex_;
    std::condition_variable all_arrived_;
    int remaining_;
};

// Arrives at the gate once, at the latest when the instance ends. A null gate (a single
// run) is ignored.
class GateArrival {
public:
    explicit GateArrival(ReadyGate* gate) : gate_(gate) {}
    ~GateArrival() { arrive(); }
    GateArrival(const GateArrival&) = delete;
    GateArrival& operator=(const GateArrival&) = delete;

    void arrive() {
        if (gate_ && !arrived_) gate_->arrive();
        arrived_ = true;
    }

private:
    ReadyGate* gate_;
    bool arrived_ = false;
};

}  // namespace isolab::bench
