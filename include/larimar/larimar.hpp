#pragma once
// The umbrella header: everything. Finer headers keep compile times down where only a part is needed:
//   larimar/memory/{memory,sharded_memory}.hpp + a storage, key and solver header — the memory;
//   larimar/io/state_file.hpp — saving and loading a memory;
//   larimar/model/model.hpp — the GPT-2 decoder and BERT encoder over thrust;
//   larimar/tokenizer/{byte_level_bpe,wordpiece}.hpp — tokenizers; larimar/io/safetensors.hpp — weights;
//   larimar/pipeline/pipeline.hpp — text → memory → answer (recall_pipeline, tasks, segmenter);
//   larimar/runtime/{factory,pipeline_factory}.hpp — memories and pipelines named by a spec string at run time
//   (not included here: they instantiate every memory type; docs/runtime.md).
#include "larimar/core/config.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/matrix_ref.hpp"
#include "larimar/io/safetensors.hpp"
#include "larimar/io/state_file.hpp"
#include "larimar/keys/content.hpp"
#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/keys/prefix_encoding.hpp"
#include "larimar/memory/memory.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/model/model.hpp"
#include "larimar/pipeline/pipeline.hpp"
#include "larimar/solver/iterative.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/device.hpp"
#include "larimar/storage/host.hpp"
#include "larimar/tokenizer/byte_level_bpe.hpp"
#include "larimar/tokenizer/wordpiece.hpp"
