#include "tmdflow/learn/pattern_inference.hpp"

#include <algorithm>
#include <type_traits>

#include "tmdflow/core/error.hpp"
#include "tmdflow/par/failure.hpp"

namespace tmdflow::learn {

PatternInference::PatternInference(PatchModel& model, PatternInferenceOptions options)
    : model_(model), options_(std::move(options)) {}

void PatternInference::prepare(const io::DatacubeMeta& meta, const io::Shard& shard) {
  shard_ = shard;
  scan_rows_ = meta.shape[0];
  sample_ = SampleShape{1, meta.shape[2], meta.shape[3]};
  channels_ = model_.output_channels(sample_);
  if (channels_ <= 0)
    throw InputError(model_.name() + ": expected at least one output value per pattern " + sample_.describe() +
                     ", found " + std::to_string(channels_));
  maps_.assign(std::size_t(channels_ * shard.patterns()), 0.f);
  const std::int64_t batch = std::max<std::int64_t>(1, options_.batch_size);
  batch_.resize(std::size_t(batch * sample_.size()));
  out_.resize(std::size_t(batch * channels_));
}

void PatternInference::process(const io::PatternBlock& block) {
  block.visit([&](auto view) {
    using T = std::remove_const_t<typename decltype(view)::value_type>;
    const T* patterns = view.data();
    // Models run on the host: bring the block over when the pass keeps it in device memory.
    Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::HostSpace> host_copy;
    if constexpr (!Kokkos::SpaceAccessibility<Kokkos::HostSpace, io::MemSpace>::accessible) {
      host_copy = Kokkos::View<T**, Kokkos::LayoutRight, Kokkos::HostSpace>("tmdflow::learn::pattern_block_host",
                                                                           view.extent(0), view.extent(1));
      Kokkos::deep_copy(host_copy, view);
      patterns = host_copy.data();
    }
    const std::int64_t npix = sample_.size(), batch = std::max<std::int64_t>(1, options_.batch_size);
    const std::int64_t local_patterns = shard_.patterns();
    for (std::int64_t start = 0; start < block.count; start += batch) {
      const std::int64_t n = std::min(batch, block.count - start);
      std::transform(patterns + start * npix, patterns + (start + n) * npix, batch_.begin(),
                     [](T v) { return float(v); });
      run_checked(model_, batch_.data(), n, sample_, channels_, out_.data());
      for (std::int64_t k = 0; k < n; ++k)
        for (std::int64_t c = 0; c < channels_; ++c)
          maps_[std::size_t(c * local_patterns + block.first_local + start + k)] = out_[std::size_t(k * channels_ + c)];
    }
  });
}

void PatternInference::merge(const par::Comm& comm) {
  // Ranks without patterns still asked their model, so every rank holds a value here.
  const std::int64_t lo = comm.allreduce(channels_, par::Op::min), hi = comm.allreduce(channels_, par::Op::max);
  if (lo != hi)
    throw InputError(model_.name() + ": ranks disagree on the number of output values per pattern (found " +
                     std::to_string(lo) + " to " + std::to_string(hi) + ")");
}

void PatternInference::write(const par::Comm& comm, const io::h5::Group& out, const std::string& name) const {
  const std::int64_t ry = shard_.ry;
  io::h5::Dataset maps = out.create_dataset(name, io::Dtype::f32, {channels_, scan_rows_, ry},
                                            {1, std::min<std::int64_t>(scan_rows_, 256), std::min<std::int64_t>(ry, 256)});
  const float dummy = 0.f;  // HDF5 wants a buffer even for an empty selection
  std::exception_ptr error;
  try {
    maps.write<float>({0, shard_.rows.begin, 0}, {channels_, shard_.rows.size(), ry}, maps_.empty() ? &dummy : maps_.data());
  } catch (...) {
    error = std::current_exception();
  }
  par::agree(comm, error);
}

std::vector<std::int64_t> infer_datacube_patterns(const par::Comm& comm, PatchModel& model, const io::DatacubeReader& reader,
                                                  const io::h5::Group& out, const std::string& name,
                                                  const PatternInferenceOptions& options) {
  PatternInference inference(model, options);
  // The model sees at most one block per call: by default, blocks of one batch (the pass's
  // cache-sized default would cut the batches short).
  io::PassOptions pass = options.pass;
  if (pass.block_patterns <= 0) pass.block_patterns = std::max<std::int64_t>(1, options.batch_size);
  io::run_pattern_pass(comm, reader, {&inference}, pass);
  inference.write(comm, out, name);
  const auto& shape = reader.meta().shape;
  return {inference.channels(), shape[0], shape[1]};
}

}  // namespace tmdflow::learn
