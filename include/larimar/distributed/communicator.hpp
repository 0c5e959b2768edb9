#pragma once
// A private duplicate of the caller's communicator on which every collective is non-blocking and waited for with
// a deadline, so that a rank that died or stalls is reported (rank_failure) on the others within bounded time
// instead of hanging them. Errors are returned, not fatal (MPI_ERRORS_RETURN on the duplicate).
#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <cstddef>
#include <string>
#include <thread>

#include "larimar/distributed/error.hpp"

namespace larimar::distributed {

class communicator {
 public:
  using clock = std::chrono::steady_clock;

  communicator(MPI_Comm comm, std::chrono::milliseconds timeout) : timeout_(timeout) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) throw state_error("distributed_memory: MPI is not initialized (call MPI_Init first)");
    MPI_Request req = MPI_REQUEST_NULL;
    check(MPI_Comm_idup(comm, &comm_, &req), "distributed_memory: MPI_Comm_idup");
    wait(req, "distributed_memory: duplicating the communicator");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  communicator(const communicator&) = delete;
  communicator& operator=(const communicator&) = delete;
  ~communicator() {
    // A communicator with an abandoned collective cannot be freed safely: it is left to MPI_Finalize/abort.
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (comm_ != MPI_COMM_NULL && !broken_ && !finalized) MPI_Comm_free(&comm_);
  }

  MPI_Comm get() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
  bool broken() const { return broken_; }

  void require_usable(const std::string& op) const {
    if (broken_)
      throw rank_failure(op + ": an earlier collective of this memory failed (" + failure_ +
                         "); the memory cannot be used further: end the job and load the last save");
  }

  void check(int rc, const std::string& op) {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    fail(op + ": MPI error: " + std::string(text, static_cast<std::size_t>(len)));
  }

  // Completes a non-blocking operation or throws rank_failure once the deadline passes. Polls without pause for
  // the first 2 ms (a collective's usual time: sched_yield there cost ~5 ms per collective on a loaded machine,
  // measured), then with a growing sleep, so that a long wait does not hold a core that other ranks share.
  void wait(MPI_Request& req, const std::string& op) {
    const auto start = clock::now(), deadline = start + timeout_;
    auto pause = std::chrono::microseconds(0);
    for (;;) {
      int done = 0;
      check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), op);
      if (done) return;
      const auto now = clock::now();
      if (now > deadline)
        fail(op + ": not every rank answered within " + std::to_string(timeout_.count()) +
             " ms (a rank died, stalled, or did not make the same call)");
      if (now - start > std::chrono::milliseconds(2)) {
        pause = std::min(std::chrono::microseconds(1000), pause + std::chrono::microseconds(50));
        std::this_thread::sleep_for(pause);
      }
    }
  }

  // ---- the collectives a distributed memory uses, each with the deadline -------------------------------------

  void allreduce(const void* in, void* out, int count, MPI_Datatype type, MPI_Op op_, const std::string& op) {
    require_usable(op);
    MPI_Request req = MPI_REQUEST_NULL;
    check(MPI_Iallreduce(in, out, count, type, op_, comm_, &req), op);
    wait(req, op);
  }
  void allgatherv(const void* send, int count, MPI_Datatype type, void* recv, const int* counts, const int* displs,
                  const std::string& op) {
    require_usable(op);
    MPI_Request req = MPI_REQUEST_NULL;
    check(MPI_Iallgatherv(send, count, type, recv, counts, displs, type, comm_, &req), op);
    wait(req, op);
  }
  void gatherv(const void* send, int count, MPI_Datatype type, void* recv, const int* counts, const int* displs,
               int root, const std::string& op) {
    require_usable(op);
    MPI_Request req = MPI_REQUEST_NULL;
    check(MPI_Igatherv(send, count, type, recv, counts, displs, type, root, comm_, &req), op);
    wait(req, op);
  }
  void allgather(const void* send, int count, MPI_Datatype type, void* recv, const std::string& op) {
    require_usable(op);
    MPI_Request req = MPI_REQUEST_NULL;
    check(MPI_Iallgather(send, count, type, recv, count, type, comm_, &req), op);
    wait(req, op);
  }
  void bcast(void* data, int count, MPI_Datatype type, int root, const std::string& op) {
    require_usable(op);
    MPI_Request req = MPI_REQUEST_NULL;
    check(MPI_Ibcast(data, count, type, root, comm_, &req), op);
    wait(req, op);
  }
  void barrier(const std::string& op) {
    require_usable(op);
    MPI_Request req = MPI_REQUEST_NULL;
    check(MPI_Ibarrier(comm_, &req), op);
    wait(req, op);
  }
  // Empty when every rank passes an empty `failure`; otherwise the lowest failing rank's, on every rank, prefixed
  // with that rank ("rank 2: ..."), so that all ranks report the same problem.
  std::string first_failure(const std::string& failure, const std::string& op) {
    int in = failure.empty() ? size_ : rank_, lowest = size_;
    allreduce(&in, &lowest, 1, MPI_INT, MPI_MIN, op);
    if (lowest == size_) return {};
    std::string text = rank_ == lowest ? failure : std::string();
    std::uint64_t n = text.size();
    bcast(&n, 1, MPI_UINT64_T, lowest, op);
    text.resize(n);
    bcast(text.data(), static_cast<int>(n), MPI_CHAR, lowest, op);
    return "rank " + std::to_string(lowest) + ": " + text;
  }
 private:
  [[noreturn]] void fail(const std::string& what) {
    broken_ = true;
    failure_ = what;
    throw rank_failure(what + "; this memory cannot be used further: end the job (MPI_Abort) and load the last save");
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  std::chrono::milliseconds timeout_;
  bool broken_ = false;
  std::string failure_;
};

}  // namespace larimar::distributed
