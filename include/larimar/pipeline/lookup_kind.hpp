#pragma once
// Which vector of a segment (and of a query) a pipeline hands the memory as its lookup vector.
namespace larimar::pipeline {

enum class lookup_kind {
  prefix,  // the encoding of the first P tokens (pipeline_options::prefix_tokens)
  full     // the segment's full latent, and the encoding of the whole query ("no prefix")
};

}  // namespace larimar::pipeline
