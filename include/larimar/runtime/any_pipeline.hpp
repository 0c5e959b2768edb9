#pragma once
// larimar::runtime::pipeline_interface — recall_pipeline with its memory type chosen at run time
// (docs/runtime.md). runtime/pipeline_factory.hpp makes one from a spec string; pipeline_model<Memory> wraps
// recall_pipeline<Memory>. The calls and their behaviour are recall_pipeline's (docs/pipeline.md).
//
//   auto models = std::make_shared<const larimar::pipeline::recall_models<>>(
//       larimar::pipeline::recall_models<>::load("models/larimar-tiny"));
//   auto p = larimar::runtime::make_pipeline("sharded,fixed_nearest/prefix,pinv,device", models);
//   p->write(stream);                      // any segment_source
//   auto a = p->ask("The pass key is");
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "larimar/pipeline/recall_pipeline.hpp"
#include "larimar/runtime/any_memory.hpp"
#include "larimar/runtime/spec.hpp"

namespace larimar::runtime {

class pipeline_interface {
 public:
  using models_type = pipeline::recall_models<>;
  using reading = host_reading<float>;
  using ranked_reading = host_top_k<float>;
  using answer = pipeline::recall_answer;

  virtual ~pipeline_interface() = default;
  pipeline_interface(const pipeline_interface&) = delete;
  pipeline_interface& operator=(const pipeline_interface&) = delete;

  virtual const pipeline::pipeline_options& options() const = 0;
  virtual const models_type& models() const = 0;
  virtual const memory_reader& memory() const = 0;
  virtual std::size_t segments() const = 0;
  virtual std::size_t tokens() const = 0;
  virtual pipeline::stage_timings timings() const = 0;
  virtual void reset_timings() = 0;
  virtual void clear() = 0;

  virtual std::vector<std::size_t> write_segments(std::span<const pipeline::segment> batch) = 0;
  // Streams a segment source into the memory; the entry ids of its needles.
  template <pipeline::segment_source Source>
  std::vector<std::size_t> write(Source& source) {
    return write_stream([&source] { return source.next(); });
  }
  virtual std::vector<std::size_t> write_text(std::string_view text) = 0;

  virtual std::vector<float> query_lookups(std::span<const std::string> queries) const = 0;
  virtual reading read(std::span<const std::string> queries) const = 0;
  virtual ranked_reading read(std::span<const std::string> queries, std::size_t k) const = 0;
  virtual std::vector<model::generation> generate(std::span<const std::string> queries,
                                                  std::span<const float> latents) const = 0;
  virtual std::vector<answer> ask(std::span<const std::string> queries) const = 0;
  answer ask(std::string_view query) const {
    const std::vector<std::string> q{std::string(query)};
    return ask(std::span<const std::string>(q)).front();
  }
  // The distinct answers of each query's k best entries, best first (recall_pipeline::ask(queries, k)).
  virtual std::vector<std::vector<answer>> ask(std::span<const std::string> queries, std::size_t k) const = 0;
  std::vector<answer> ask(std::string_view query, std::size_t k) const {
    const std::vector<std::string> q{std::string(query)};
    return ask(std::span<const std::string>(q), k).front();
  }
  virtual std::future<std::vector<answer>> ask_async(std::span<const std::string> queries) const = 0;
  virtual std::vector<model::token_id> prompt(std::string_view query) const = 0;

  // The memory's resolved spec with the pipeline's lookup (keys/prefix or keys/full), and its string.
  memory_spec spec() const {
    memory_spec s = memory().spec();
    s.lookup = options().lookup;
    return s;
  }
  std::string describe() const { return to_string(spec()); }

  // The recall_pipeline behind the interface, or nullptr when it is another type.
  template <class Pipeline>
  const Pipeline* target() const {
    return static_cast<const Pipeline*>(target_of(typeid(Pipeline)));
  }
  template <class Pipeline>
  Pipeline* target() {
    return const_cast<Pipeline*>(std::as_const(*this).template target<Pipeline>());
  }

 protected:
  pipeline_interface() = default;
  using segment_stream = std::function<std::optional<pipeline::segment>()>;
  virtual std::vector<std::size_t> write_stream(segment_stream next) = 0;
  virtual const void* target_of(const std::type_info& type) const = 0;
};

template <class Memory>
class pipeline_model final : public pipeline_interface {
  using pipeline_type = pipeline::recall_pipeline<Memory>;

 public:
  pipeline_model(std::shared_ptr<const models_type> models, pipeline::pipeline_options options)
      : p_(std::move(models), options) {}

  const pipeline::pipeline_options& options() const override { return p_.options(); }
  const models_type& models() const override { return p_.models(); }
  const memory_reader& memory() const override { return view_; }
  std::size_t segments() const override { return p_.segments(); }
  std::size_t tokens() const override { return p_.tokens(); }
  pipeline::stage_timings timings() const override { return p_.timings(); }
  void reset_timings() override { p_.reset_timings(); }
  void clear() override { p_.clear(); }

  std::vector<std::size_t> write_segments(std::span<const pipeline::segment> batch) override {
    return p_.write_segments(batch);
  }
  std::vector<std::size_t> write_text(std::string_view text) override { return p_.write_text(text); }

  std::vector<float> query_lookups(std::span<const std::string> queries) const override {
    return p_.query_lookups(queries);
  }
  reading read(std::span<const std::string> queries) const override { return p_.read(queries); }
  ranked_reading read(std::span<const std::string> queries, std::size_t k) const override { return p_.read(queries, k); }
  std::vector<model::generation> generate(std::span<const std::string> queries,
                                          std::span<const float> latents) const override {
    return p_.generate(queries, latents);
  }
  using pipeline_interface::ask;
  std::vector<answer> ask(std::span<const std::string> queries) const override { return p_.ask(queries); }
  std::vector<std::vector<answer>> ask(std::span<const std::string> queries, std::size_t k) const override {
    return p_.ask(queries, k);
  }
  std::future<std::vector<answer>> ask_async(std::span<const std::string> queries) const override {
    return p_.ask_async(queries);
  }
  std::vector<model::token_id> prompt(std::string_view query) const override { return p_.prompt(query); }

 private:
  struct stream_source {
    segment_stream& next_segment;
    std::optional<pipeline::segment> next() { return next_segment(); }
  };
  std::vector<std::size_t> write_stream(segment_stream next) override {
    stream_source source{next};
    return p_.write(source);
  }
  const void* target_of(const std::type_info& type) const override {
    return type == typeid(pipeline_type) ? &p_ : nullptr;
  }

  pipeline_type p_;
  memory_view<Memory> view_{p_.memory()};  // p_.clear() assigns the memory in place: the view stays valid
};

}  // namespace larimar::runtime
