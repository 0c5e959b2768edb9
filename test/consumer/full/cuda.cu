// Compiled by nvcc against the installed package: thrust's CUDA system with nothing chosen, and the default stream
// mode the target asked for (LARIMAR_CUDA_PER_THREAD_DEFAULT_STREAM).
#include <larimar/backend/system.hpp>

#include <type_traits>

static_assert(THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA, "a CUDA source gets thrust's CUDA system");
static_assert(std::is_same_v<larimar::backend::active, larimar::backend::cuda>);
#if defined(LARIMAR_CONSUMER_EXPECT_PER_THREAD) != defined(CUDA_API_PER_THREAD_DEFAULT_STREAM)
#error "the default stream mode is not the one this target chose"
#endif

int larimar_consumer_cuda_compiled() { return 1; }
