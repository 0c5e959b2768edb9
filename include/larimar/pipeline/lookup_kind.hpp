#pragma once
// Which vector of a segment (and of a query) a pipeline hands the memory as its lookup vector.
namespace larimar::pipeline {

enum class lookup_kind {
  prefix,  // the encoding of the first P tokens (pipeline_options::prefix_tokens)
  full,    // the segment's full latent, and the encoding of the whole query ("no prefix")
  tokens   // a hash sketch of the first P token ids (token_sketch.hpp): exact prefixes match, no encoder pass
};

// Whether the lookup vector is made of the first P tokens (prefix and tokens), not of the whole segment.
constexpr bool looks_up_prefix(lookup_kind k) { return k != lookup_kind::full; }

}  // namespace larimar::pipeline
