#include "tmdflow/learn/map_inference.hpp"

#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::learn {
namespace {

/// Bilinear resampling of (n, c, h, w) to (oh, ow) with pixel centres aligned (align_corners=false).
torch::Tensor resize(const torch::Tensor& x, std::int64_t oh, std::int64_t ow) {
  namespace F = torch::nn::functional;
  return F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<std::int64_t>{oh, ow}).mode(torch::kBilinear).align_corners(false));
}

std::string shape_of(const torch::Tensor& t) {
  std::string s = "(";
  for (std::int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + ")";
}

std::int64_t param(const std::map<std::string, std::string>& p, const std::string& key, std::int64_t fallback) {
  const auto it = p.find(key);
  return it == p.end() ? fallback : std::stoll(it->second);
}

}  // namespace

MapModelLayout map_model_layout(const std::string& family, const std::map<std::string, std::string>& params) {
  if (family == "unet") return {param(params, "classes", 2), std::int64_t(1) << param(params, "levels", 4)};
  if (family == "detector") return {param(params, "classes", 1), 1};
  if (family == "autoencoder") return {param(params, "in_channels", 1), std::int64_t(1) << param(params, "levels", 3)};
  throw ConfigError("model: a " + family + " network gives values per sample, expected a map model (unet, detector, autoencoder)");
}

void ImageStatistics::prepare(const io::ImagePassShape& shape, std::int64_t) { sums_.assign(std::size_t(3 * shape.images), 0.0); }

void ImageStatistics::process(const io::ImageTile& tile, const std::vector<io::TileMap>&) {
  double s = 0, ss = 0;
  for (std::int64_t y = tile.owned_y.begin; y < tile.owned_y.end; ++y)
    for (std::int64_t x = tile.owned_x.begin; x < tile.owned_x.end; ++x) {
      const double v = tile.at(y, x);
      s += v, ss += v * v;
    }
  double* a = &sums_[std::size_t(3 * tile.image)];
  a[0] += s, a[1] += ss, a[2] += double(tile.owned_y.size() * tile.owned_x.size());
}

void ImageStatistics::merge(const par::Comm& comm) { comm.allreduce_inplace(sums_.data(), sums_.size(), par::Op::sum); }

float ImageStatistics::mean(std::int64_t image) const { return float(sums_[std::size_t(3 * image)] / sums_[std::size_t(3 * image + 2)]); }

float ImageStatistics::sd(std::int64_t image) const {
  const double n = sums_[std::size_t(3 * image + 2)], m = sums_[std::size_t(3 * image)] / n;
  const double var = sums_[std::size_t(3 * image + 1)] / n - m * m;
  return var > 1e-24 ? float(std::sqrt(var)) : 1.0f;
}

MapModelAnalysis::MapModelAnalysis(Network& net, MapModelLayout layout, double scale, std::int64_t halo, const ImageStatistics* stats)
    : net_(net), layout_(layout), scale_(scale), halo_(halo), stats_(stats) {}

std::vector<std::string> MapModelAnalysis::pixel_maps() const {
  std::vector<std::string> names;
  for (std::int64_t c = 0; c < layout_.channels; ++c) names.push_back("map_" + std::to_string(c));
  return names;
}

std::vector<float> tile_maps(Network& net, const MapModelLayout& layout, double scale, const ImageStatistics* stats, const io::ImageTile& tile) {
  const std::int64_t th = tile.owned_y.size() + 2 * tile.halo, tw = tile.owned_x.size() + 2 * tile.halo;
  const std::int64_t multiple = layout.multiple;
  torch::InferenceMode guard;
  torch::Tensor x = torch::from_blob(const_cast<float*>(tile.data), {1, 1, th, tw}, torch::kFloat).clone();
  // To the model's pixel size, padded (reflected) to a size its downsampling accepts.
  const std::int64_t mh = std::max<std::int64_t>(1, std::llround(double(th) * scale));
  const std::int64_t mw = std::max<std::int64_t>(1, std::llround(double(tw) * scale));
  if (mh != th || mw != tw) x = resize(x, mh, mw);
  if (stats) x = (x - stats->mean(tile.image)) / stats->sd(tile.image);
  const std::int64_t ph = (multiple - mh % multiple) % multiple, pw = (multiple - mw % multiple) % multiple;
  if (ph || pw) {
    namespace F = torch::nn::functional;
    F::PadFuncOptions pad({0, pw, 0, ph});
    if (mh > ph && mw > pw) pad.mode(torch::kReflect);  // reflection needs more pixels than it adds
    else pad.mode(torch::kReplicate);
    x = F::pad(x, pad);
  }
  torch::Tensor y = net.forward(x.contiguous(torch::MemoryFormat::ChannelsLast));
  if (y.dim() != 4 || y.size(1) != layout.channels)
    throw InputError("predict: the model gave an output of shape " + shape_of(y) + ", expected (1, " + std::to_string(layout.channels) +
                     ", H, W) maps");
  y = y.slice(2, 0, y.size(2) - (y.size(2) == mh + ph ? ph : 0)).slice(3, 0, y.size(3) - (y.size(3) == mw + pw ? pw : 0));
  y = resize(y, th, tw).contiguous();  // back to the image's pixel grid
  const float* p = y.data_ptr<float>();
  return std::vector<float>(p, p + layout.channels * th * tw);
}

void MapModelAnalysis::process(const io::ImageTile& tile, const std::vector<io::TileMap>& maps) {
  const std::int64_t th = tile.owned_y.size() + 2 * tile.halo, tw = tile.owned_x.size() + 2 * tile.halo;
  const std::vector<float> y = tile_maps(net_, layout_, scale_, stats_, tile);
  for (std::int64_t c = 0; c < layout_.channels; ++c)
    for (std::int64_t yy = tile.owned_y.begin; yy < tile.owned_y.end; ++yy)
      for (std::int64_t xx = tile.owned_x.begin; xx < tile.owned_x.end; ++xx)
        maps[std::size_t(c)].at(yy, xx) = y[std::size_t((c * th + yy - tile.owned_y.begin + tile.halo) * tw + xx - tile.owned_x.begin + tile.halo)];
}

}  // namespace tmdflow::learn
