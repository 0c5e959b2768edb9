#pragma once
// The candidates a read's collective ranks: each rank offers its k best entries per query, and one reduction
// merges the lists pairwise into the global k best. The rank is the single-process memory's (memory/top_k.hpp):
// higher score first, equal scores by lower entry id; a strict total order over distinct entries, so the merge is
// associative and commutative and every rank gets the same winners whatever the reduction's tree.
#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace larimar::distributed::detail {

struct candidate {
  double score;        // the local read's score (T widened exactly)
  std::uint64_t entry;  // global entry id
  std::uint64_t block;  // global block
  std::uint64_t slot;
};

inline constexpr candidate no_candidate{-std::numeric_limits<double>::infinity(),
                                        std::numeric_limits<std::uint64_t>::max(), 0, 0};

constexpr bool ranks_before(const candidate& a, const candidate& b) {
  return a.score > b.score || (a.score == b.score && a.entry < b.entry);
}

// inout[i] = the k best of in[i] ∪ inout[i], for each of `len` lists of k candidates (k from the datatype).
inline void merge_lists(void* in, void* inout, int* len, MPI_Datatype* type) {
  int bytes = 0;
  MPI_Type_size(*type, &bytes);
  const std::size_t k = static_cast<std::size_t>(bytes) / sizeof(candidate);
  auto* a = static_cast<const candidate*>(in);
  auto* b = static_cast<candidate*>(inout);
  std::vector<candidate> merged(k);
  for (int l = 0; l < *len; ++l) {
    const candidate* x = a + static_cast<std::size_t>(l) * k;
    candidate* y = b + static_cast<std::size_t>(l) * k;
    std::size_t i = 0, j = 0;
    for (std::size_t o = 0; o < k; ++o) merged[o] = (j >= k || (i < k && !ranks_before(y[j], x[i]))) ? x[i++] : y[j++];
    for (std::size_t o = 0; o < k; ++o) y[o] = merged[o];
  }
}

// The MPI datatype of one query's list of k candidates and the merge operation, freed with the object.
class candidate_reduction {
 public:
  explicit candidate_reduction(std::size_t k) {
    MPI_Type_contiguous(static_cast<int>(k * sizeof(candidate)), MPI_BYTE, &type_);
    MPI_Type_commit(&type_);
    MPI_Op_create(&merge_lists, 1, &op_);
  }
  candidate_reduction(const candidate_reduction&) = delete;
  candidate_reduction& operator=(const candidate_reduction&) = delete;
  ~candidate_reduction() {
    MPI_Op_free(&op_);
    MPI_Type_free(&type_);
  }
  MPI_Datatype type() const { return type_; }
  MPI_Op op() const { return op_; }

 private:
  MPI_Datatype type_ = MPI_DATATYPE_NULL;
  MPI_Op op_ = MPI_OP_NULL;
};

}  // namespace larimar::distributed::detail
