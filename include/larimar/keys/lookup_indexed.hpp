#pragma once
// Key policies whose nearest-neighbour index holds each entry's lookup vector as given (keys::fixed_nearest) and
// whose queries read at the matched entry's own address: an entry can then carry more lookup vectors than one,
// all leading to that address (memory/extra_lookups.hpp). Optional: a policy says so with
// `static constexpr bool index_holds_lookups = true;`; others (addresses in the index, content reads) do not.
#include "larimar/keys/concepts.hpp"

namespace larimar::keys {

template <class K, class T, class S>
concept lookup_indexed = key_policy<K, T, S> && requires {
  requires K::index_holds_lookups;
};

}  // namespace larimar::keys
