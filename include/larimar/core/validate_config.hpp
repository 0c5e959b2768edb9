#pragma once
// A memory_config checked before a memory is built from it; every error names the memory and the field.
#include <cmath>
#include <string>

#include "larimar/core/config.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/precision.hpp"

namespace larimar::detail {

// `who` names the memory in messages; `lookups_are_latents`: its key policy looks up latents (keys::content), so
// the lookup size can only be the code size.
inline memory_config validated_config(const memory_config& cfg, const char* who, bool lookups_are_latents) {
  const std::string op = std::string(who) + ": config";
  if (cfg.slots == 0) throw value_error(op + ": slots must be positive (got 0)");
  if (cfg.code_size == 0) throw value_error(op + ": code_size must be positive (got 0)");
  if (!std::isfinite(cfg.memory_logvar)) throw value_error(op + ": memory_logvar is not finite");
  if (!(cfg.observation_noise >= 0) || !std::isfinite(cfg.observation_noise))
    throw value_error(op + ": observation_noise must be a finite value >= 0");
  if (lookups_are_latents && cfg.lookup_size != 0 && cfg.lookup_size != cfg.code_size)
    throw value_error(op + ": content addressing looks up latents, so lookup_size must be 0 or code_size");
  if (cfg.lookup_precision != precision::full && cfg.lookup_precision != precision::fp16 &&
      cfg.lookup_precision != precision::bf16)
    throw value_error(op + ": lookup_precision must be full, fp16 or bf16");
  if (cfg.memory_precision != precision::full && cfg.memory_precision != precision::fp16 &&
      cfg.memory_precision != precision::bf16)
    throw value_error(op + ": memory_precision must be full, fp16 or bf16");
  if (!(cfg.write_tolerance >= 0) || !std::isfinite(cfg.write_tolerance))
    throw value_error(op + ": write_tolerance must be a finite value >= 0");
  if (cfg.quantized_lookup && cfg.lookup_precision != precision::full)
    throw value_error(op + ": quantized_lookup (int8 shortlist + exact rescoring) and lookup_precision " +
                      precision_name(cfg.lookup_precision) + " are alternatives; choose one");
  return cfg;
}

}  // namespace larimar::detail
