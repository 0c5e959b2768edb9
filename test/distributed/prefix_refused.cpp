// Must not compile: prefix encoding's block fill depends on the blocks before it (docs/distributed.md).
#include "larimar/distributed/distributed_memory.hpp"
#include "larimar/keys/prefix_encoding.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/host.hpp"

using Refused = larimar::distributed::distributed_memory<float, larimar::storage::host, larimar::keys::prefix_encoding,
                                                         larimar::solver::pseudoinverse>;
int main() { return sizeof(Refused) > 0 ? 0 : 1; }
