#include "tmdflow/learn/trainset_stream.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tmdflow/core/error.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/random.hpp"

namespace tmdflow::learn {
namespace h5 = io::h5;
namespace {

constexpr std::uint64_t kValidationStream = 0x76616c;  // "val"
constexpr std::uint64_t kEpochStream = 0x65706f;       // "epo"

std::string shape_text(const h5::Shape& s) {
  std::string t = "(";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + ")";
}

// Runs of consecutive values in a sorted list: (first, length).
std::vector<std::pair<std::int64_t, std::int64_t>> runs_of(const std::vector<std::int64_t>& sorted) {
  std::vector<std::pair<std::int64_t, std::int64_t>> runs;
  for (std::int64_t i : sorted) {
    if (!runs.empty() && runs.back().first + runs.back().second == i) ++runs.back().second;
    else runs.push_back({i, 1});
  }
  return runs;
}

void normalise(Sample& s, const StreamOptions& o) {
  if (o.normalisation == Normalisation::none) return;
  const std::size_t plane = std::size_t(s.height * s.width);
  for (std::int64_t c = 0; c < s.channels; ++c) {
    float* p = s.input.data() + std::size_t(c) * plane;
    double mean = o.mean, sd = o.sd;
    if (o.normalisation == Normalisation::per_sample) {
      mean = std::accumulate(p, p + plane, 0.0) / double(plane);
      double var = 0;
      for (std::size_t i = 0; i < plane; ++i) var += (p[i] - mean) * (p[i] - mean);
      sd = std::sqrt(var / double(plane));
      if (!(sd > 1e-12)) sd = 1.0;  // a flat sample: centred only
    }
    const double inv = 1.0 / sd;
    for (std::size_t i = 0; i < plane; ++i) p[i] = float((p[i] - mean) * inv);
  }
}

void centre_crop(Sample& s, std::int64_t size) {
  if (size > s.height || size > s.width)
    throw ConfigError("augmentation: crop of " + std::to_string(size) + " pixels: expected at most the sample's " +
                      std::to_string(s.height) + " x " + std::to_string(s.width));
  const std::int64_t y0 = (s.height - size) / 2, x0 = (s.width - size) / 2;
  auto crop = [&](const std::vector<float>& v, std::int64_t planes) {
    std::vector<float> out(std::size_t(planes * size * size));
    for (std::int64_t p = 0; p < planes; ++p)
      for (std::int64_t y = 0; y < size; ++y)
        std::copy_n(v.data() + (p * s.height + y0 + y) * s.width + x0, size, out.data() + (p * size + y) * size);
    return out;
  };
  s.input = crop(s.input, s.channels);
  if (s.target_kind == TargetKind::map) s.target = crop(s.target, s.target_channels);
  s.height = s.width = size;
}

}  // namespace

std::vector<std::int64_t> seeded_permutation(std::int64_t n, std::uint64_t seed, std::uint64_t stream, std::int64_t epoch) {
  std::vector<std::int64_t> p(std::size_t(std::max<std::int64_t>(n, 0)));
  std::iota(p.begin(), p.end(), 0);
  par::rng::Stream r(par::rng::key(seed, stream, std::uint64_t(epoch)));
  // Fisher-Yates with our own uniform draws (std::shuffle's use of the generator is unspecified).
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = std::int64_t(r.uniform() * double(i + 1));
    std::swap(p[std::size_t(i)], p[std::size_t(std::min(j, i))]);
  }
  return p;
}

struct TrainsetStream::Impl {
  TrainsetSource source;
  StreamOptions options;
  int rank = 0, ranks = 1;
  h5::File file;
  h5::Dataset inputs;
  std::vector<h5::Dataset> labels;
  h5::Dataset map;
  std::int64_t n = 0, channels = 1, height = 0, width = 0;
  TargetKind kind = TargetKind::values;
  std::int64_t target_channels = 1;  // planes of the map targets
  std::vector<std::int64_t> train, validation;
  std::int64_t cached_epoch = -1;
  std::vector<std::int64_t> epoch_order;  // positions in `train`

  h5::Dataset open_data(const h5::Group& g, const std::string& name) const {
    const h5::LinkKind k = g.kind(name);
    if (k == h5::LinkKind::missing)
      throw InputError::at(source.file, g.path() + "/" + name, "trainset", "a dataset", "nothing");
    if (k == h5::LinkKind::group) return g.open_group(name).open_dataset("data");  // an EMD array
    return g.open_dataset(name);
  }

  void open() {
    if (!h5::File::is_hdf5(source.file)) throw InputError::at(source.file, "", "trainset", "an HDF5 file", "no readable HDF5 file");
    file = h5::File::open(source.file, h5::Mode::read, nullptr);
    const h5::Group g = file.root().kind(source.group) == h5::LinkKind::group
                            ? file.group(source.group)
                            : throw InputError::at(source.file, source.group, "trainset", "a product group", "nothing");
    inputs = open_data(g, source.inputs);
    const h5::Shape s = inputs.shape();
    if (s.size() != 3 && s.size() != 4)
      throw InputError::at(source.file, inputs.path(), "inputs", "shape (N, H, W) or (N, C, H, W)", shape_text(s));
    n = s[0];
    channels = s.size() == 4 ? s[1] : 1;
    height = s[s.size() - 2];
    width = s[s.size() - 1];
    if (n <= 0 || channels <= 0 || height <= 0 || width <= 0)
      throw InputError::at(source.file, inputs.path(), "inputs", "a non-empty array", shape_text(s));
    const int kinds = int(!source.labels.empty()) + int(!source.target_map.empty()) + int(source.computed_width > 0);
    if (kinds != 1)
      throw ConfigError("trainset " + source.file + ": expected one of label datasets, a target map or computed targets, found " +
                        (kinds == 0 ? "none" : "several"));
    if (source.computed_width > 0 && std::int64_t(source.computed_targets.size()) != n * source.computed_width)
      throw InputError::at(source.file, inputs.path(), "computed targets", std::to_string(n) + " rows of " + std::to_string(source.computed_width),
                           std::to_string(source.computed_targets.size()) + " values");
    for (const auto& name : source.labels) {
      h5::Dataset d = open_data(g, name);
      if (d.shape() != h5::Shape{n})
        throw InputError::at(source.file, d.path(), "label", "shape " + shape_text({n}), shape_text(d.shape()));
      labels.push_back(std::move(d));
    }
    if (!source.target_map.empty()) {
      kind = TargetKind::map;
      map = open_data(g, source.target_map);
      const h5::Shape ms = map.shape();
      if (ms.size() == 4 && ms[1] >= 1) target_channels = ms[1];
      if (ms != h5::Shape{n, height, width} && ms != h5::Shape{n, target_channels, height, width})
        throw InputError::at(source.file, map.path(), "target map", "shape " + shape_text({n, height, width}) + " or (N, C, H, W)",
                             shape_text(ms));
    }
  }

  void split() {
    const auto& o = options;
    const std::int64_t n_val = o.validation_count >= 0 ? o.validation_count : std::int64_t(std::llround(o.validation_fraction * double(n)));
    if (n_val >= n)
      throw ConfigError("trainset " + source.file + ": validation set of " + std::to_string(n_val) + " samples leaves none of " +
                        std::to_string(n) + " to train on");
    const auto p = seeded_permutation(n, o.seed, kValidationStream, 0);
    validation.assign(p.begin(), p.begin() + n_val);
    train.assign(p.begin() + n_val, p.end());
    std::sort(validation.begin(), validation.end());
    std::sort(train.begin(), train.end());
  }

  // K regression values, or the values of a map target.
  std::int64_t value_count() const {
    if (kind == TargetKind::map) return target_channels * height * width;
    return source.computed_width > 0 ? source.computed_width : std::int64_t(labels.size());
  }

  std::int64_t batches(std::int64_t count) const {
    const std::int64_t B = options.global_batch;
    return options.drop_last ? count / B : (count + B - 1) / B;
  }

  // This rank's contiguous part of global batch `b` of `order` (positions in a list).
  std::vector<std::int64_t> share(const std::vector<std::int64_t>& list, std::int64_t b) const {
    const std::int64_t B = options.global_batch;
    const std::int64_t begin = b * B, end = std::min<std::int64_t>(begin + B, std::int64_t(list.size()));
    const par::Range mine = par::block_partition(std::max<std::int64_t>(end - begin, 0), ranks, rank);
    return std::vector<std::int64_t>(list.begin() + begin + mine.begin, list.begin() + begin + mine.end);
  }

  std::int64_t global_count(std::int64_t list_size, std::int64_t b) const {
    return std::clamp<std::int64_t>(list_size - b * options.global_batch, 0, options.global_batch);
  }

  // Reads samples by global index into `batch` (in the order given).
  std::vector<Sample> read_samples(const std::vector<std::int64_t>& indices) {
    std::vector<std::int64_t> sorted = indices;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t plane = std::size_t(channels * height * width);
    const std::size_t tv = std::size_t(value_count());
    std::vector<float> in(sorted.size() * plane), tg(sorted.size() * tv);
    std::size_t at = 0;
    for (const auto& [first, len] : runs_of(sorted)) {
      h5::Shape off(inputs.shape().size(), 0), cnt = inputs.shape();
      off[0] = first;
      cnt[0] = len;
      inputs.read<float>(off, cnt, in.data() + at * plane, h5::Xfer::independent);
      if (kind == TargetKind::map) {
        if (map.shape().size() == 4)
          map.read<float>({first, 0, 0, 0}, {len, target_channels, height, width}, tg.data() + at * tv, h5::Xfer::independent);
        else
          map.read<float>({first, 0, 0}, {len, height, width}, tg.data() + at * tv, h5::Xfer::independent);
      } else if (source.computed_width > 0) {
        const double* from = source.computed_targets.data() + std::size_t(first) * tv;
        std::transform(from, from + std::size_t(len) * tv, tg.begin() + std::ptrdiff_t(at * tv), [](double v) { return float(v); });
      } else {
        std::vector<double> v(static_cast<std::size_t>(len));
        for (std::size_t k = 0; k < labels.size(); ++k) {
          labels[k].read<double>({first}, {len}, v.data(), h5::Xfer::independent);
          for (std::int64_t i = 0; i < len; ++i) tg[(at + std::size_t(i)) * tv + k] = float(v[std::size_t(i)]);
        }
      }
      at += std::size_t(len);
    }
    std::vector<Sample> out(indices.size());
    for (std::size_t i = 0; i < indices.size(); ++i) {
      const std::size_t pos = std::size_t(std::lower_bound(sorted.begin(), sorted.end(), indices[i]) - sorted.begin());
      Sample& s = out[i];
      s.index = indices[i];
      s.channels = channels;
      s.height = height;
      s.width = width;
      s.input.assign(in.begin() + pos * plane, in.begin() + (pos + 1) * plane);
      s.target_kind = kind;
      s.target_channels = target_channels;
      s.target.assign(tg.begin() + pos * tv, tg.begin() + (pos + 1) * tv);
      for (float v : s.input)
        if (!std::isfinite(v))
          throw InputError::at(source.file, inputs.path(), "sample " + std::to_string(s.index), "finite values", "NaN or infinity");
    }
    return out;
  }

  Batch assemble(std::vector<Sample> samples, std::int64_t global, const std::int64_t* epoch) {
    Batch b;
    b.count = std::int64_t(samples.size());
    b.global_count = global;
    b.channels = channels;
    b.height = height;
    b.width = width;
    b.target_kind = kind;
    b.target_channels = target_channels;
    b.target_values = value_count();
    const std::int64_t crop = options.augment.crop_px;
    if (crop > 0) b.height = b.width = crop;
    if (b.target_kind == TargetKind::map) b.target_values = target_channels * b.height * b.width;
    for (Sample& s : samples) {
      if (epoch) augment(s, options.augment, options.seed, *epoch);
      else if (crop > 0) centre_crop(s, crop);  // validation sees what training sees: the crop size
      normalise(s, options);
      if (s.height != b.height || s.width != b.width)  // a rotation of a non-square sample is never drawn
        throw InputError("trainset " + source.file + ": augmented sample " + std::to_string(s.index) + " changed its shape");
      b.inputs.insert(b.inputs.end(), s.input.begin(), s.input.end());
      b.targets.insert(b.targets.end(), s.target.begin(), s.target.end());
      b.indices.push_back(s.index);
    }
    return b;
  }

  const std::vector<std::int64_t>& order_of(std::int64_t epoch) {
    if (cached_epoch != epoch) {
      const auto p = seeded_permutation(std::int64_t(train.size()), options.seed, kEpochStream, epoch);
      epoch_order.resize(p.size());
      for (std::size_t i = 0; i < p.size(); ++i) epoch_order[i] = train[std::size_t(p[i])];
      cached_epoch = epoch;
    }
    return epoch_order;
  }
};

TrainsetStream::TrainsetStream(TrainsetSource source, StreamOptions options, int rank, int ranks) : impl_(std::make_unique<Impl>()) {
  if (options.global_batch <= 0) throw ConfigError("global batch: expected >= 1 samples, found " + std::to_string(options.global_batch));
  if (!(options.validation_fraction >= 0 && options.validation_fraction < 1))
    throw ConfigError("validation fraction: expected a value in [0, 1), found " + std::to_string(options.validation_fraction));
  if (options.normalisation == Normalisation::fixed && !(options.sd > 0))
    throw ConfigError("normalisation: expected a standard deviation > 0, found " + std::to_string(options.sd));
  options.augment.validate();
  impl_->source = std::move(source);
  impl_->options = std::move(options);
  impl_->rank = rank;
  impl_->ranks = ranks;
  h5::silence_hdf5_errors();
  impl_->open();
  impl_->split();
  if (impl_->batches(train_size()) == 0)
    throw ConfigError("trainset " + impl_->source.file + ": " + std::to_string(train_size()) + " training samples make no batch of " +
                      std::to_string(impl_->options.global_batch));
}

TrainsetStream::~TrainsetStream() = default;
TrainsetStream::TrainsetStream(TrainsetStream&&) noexcept = default;
TrainsetStream& TrainsetStream::operator=(TrainsetStream&&) noexcept = default;

std::int64_t TrainsetStream::size() const { return impl_->n; }
std::int64_t TrainsetStream::train_size() const { return std::int64_t(impl_->train.size()); }
std::int64_t TrainsetStream::validation_size() const { return std::int64_t(impl_->validation.size()); }
std::int64_t TrainsetStream::batches_per_epoch() const { return impl_->batches(train_size()); }
std::int64_t TrainsetStream::validation_batches() const {
  const std::int64_t B = impl_->options.global_batch;
  return (validation_size() + B - 1) / B;  // validation never drops samples
}
const StreamOptions& TrainsetStream::options() const { return impl_->options; }
const TrainsetSource& TrainsetStream::source() const { return impl_->source; }
int TrainsetStream::rank() const { return impl_->rank; }
int TrainsetStream::ranks() const { return impl_->ranks; }
std::int64_t TrainsetStream::channels() const { return impl_->channels; }
std::int64_t TrainsetStream::height() const { return impl_->height; }
std::int64_t TrainsetStream::width() const { return impl_->width; }
TargetKind TrainsetStream::target_kind() const { return impl_->kind; }
std::int64_t TrainsetStream::target_values() const { return impl_->value_count(); }

std::int64_t TrainsetStream::target_channels() const { return impl_->kind == TargetKind::map ? impl_->target_channels : impl_->value_count(); }
const std::vector<std::int64_t>& TrainsetStream::training_indices() const { return impl_->train; }
const std::vector<std::int64_t>& TrainsetStream::validation_indices() const { return impl_->validation; }

std::vector<std::int64_t> TrainsetStream::train_batch_indices(std::int64_t epoch, std::int64_t batch) const {
  return impl_->share(const_cast<Impl&>(*impl_).order_of(epoch), batch);
}

Batch TrainsetStream::train_batch(std::int64_t epoch, std::int64_t batch) {
  const auto idx = impl_->share(impl_->order_of(epoch), batch);
  return impl_->assemble(impl_->read_samples(idx), impl_->global_count(train_size(), batch), &epoch);
}

Batch TrainsetStream::validation_batch(std::int64_t batch) {
  const auto idx = impl_->share(impl_->validation, batch);
  return impl_->assemble(impl_->read_samples(idx), impl_->global_count(validation_size(), batch), nullptr);
}

Batch TrainsetStream::read(const std::vector<std::int64_t>& indices) {
  return impl_->assemble(impl_->read_samples(indices), std::int64_t(indices.size()), nullptr);
}

}  // namespace tmdflow::learn
