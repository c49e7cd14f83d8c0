// One thread kept for running a job beside the caller's (CpuBackend::run_side_by_side): started once, so that
// its OpenMP thread pool and its memory stay warm between jobs.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace stfpm {

class WorkerThread {
 public:
  WorkerThread();
  ~WorkerThread();
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  // Hands the thread a job; one at a time, each start() followed by wait().
  void start(std::function<void()> job);
  // Waits for the job to finish; rethrows what it threw.
  void wait();

 private:
  void loop();
  std::mutex mutex_;
  std::condition_variable changed_;
  std::function<void()> job_;
  bool busy_ = false, quit_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace stfpm
