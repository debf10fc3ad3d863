#include "stacking_support.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/learn/trainer.hpp"
#include "tmdflow/par/comm.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/sim/canonical_frame.hpp"

namespace tmdflow::stages {
namespace {

namespace h5 = io::h5;

// How far a patch may lie from the canonical frame: the lattice finder's error is ~1.5 degrees
// and ~2 % (make-trainset's --phi-jitter-deg, --scale-jitter); a patch beyond these bounds was not
// rendered in the canonical frame.
constexpr double kMaxRotationDeg = 10, kMaxScaleError = 0.1;

std::vector<double> read_label(const h5::Group& g, const std::string& file, const std::string& name, std::int64_t n) {
  const std::string path = "labels/" + name;
  if (g.kind(path) != h5::LinkKind::dataset)
    throw InputError::at(file, g.path() + "/" + path, "stacking label", "a dataset (make-trainset's Cartesian labels)", "nothing");
  auto v = g.open_dataset(path).read_all<double>();
  if (std::int64_t(v.size()) != n)
    throw InputError::at(file, g.path() + "/" + path, "stacking label", std::to_string(n) + " values (one per patch)", std::to_string(v.size()));
  return v;
}

std::int64_t patch_count(const h5::Group& g, const std::string& file) {
  const std::string inputs = g.kind("patches") == h5::LinkKind::group ? "patches/data" : "patches";
  if (g.kind(inputs) != h5::LinkKind::dataset) throw InputError::at(file, g.path() + "/patches", "trainset", "patches (N, H, W)", "nothing");
  const auto shape = g.open_dataset(inputs).shape();
  return shape.empty() ? 0 : shape[0];
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double at = q * double(v.size() - 1);
  const auto lo = std::size_t(std::floor(at)), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (at - double(lo)) * (v[hi] - v[lo]);
}

// Per sample: slip |dD| per interface (Angstrom); twist |dtheta| and 1 when the prediction is
// nearer theta than 60 - theta (up to the symmetry), else 0.
torch::Tensor per_sample_errors(const StackingTask& t, const learn::TargetSymmetry& s, const torch::Tensor& prediction,
                                const torch::Tensor& target) {
  const torch::Tensor e = learn::equivalence_errors(s, prediction, target);
  if (t.task == "twist") {
    torch::Tensor other = target.clone();
    other.select(1, 0).copy_(60 - target.select(1, 0));
    const torch::Tensor away = learn::equivalence_errors(s, prediction, other).abs().squeeze(1);
    const torch::Tensor near = e.abs().squeeze(1);
    return torch::stack({near, (near <= away).to(torch::kFloat)}, 1);
  }
  return e.view({e.size(0), -1, 2}).pow(2).sum(2).sqrt();  // (n, interfaces)
}

}  // namespace

StackingTask stacking_task(const std::string& file, const std::string& group, const std::string& task, const std::string& material,
                           int layers, const std::string& stacking) {
  StackingTask t;
  t.task = task;
  std::string materials;
  {
    h5::File f = h5::File::open(file, h5::Mode::read, nullptr);
    const h5::Group g = f.group(group);
    t.material = material.empty() ? g.attr_string("material").value_or("") : material;
    materials = g.attr_string("materials").value_or(t.material);
    t.layers = layers > 0 ? layers : int(g.attr_int("layers").value_or(0));
    t.stacking = stacking.empty() ? g.attr_string("stacking").value_or("") : stacking;
    t.anchor = g.attr_int("anchor").value_or(0) != 0;
    // A trainset of another stack than the options name cannot train this task.
    const auto have_layers = g.attr_int("layers");
    const auto have_stacking = g.attr_string("stacking");
    if (materials.find(',') != std::string::npos)
      throw InputError::at(file, group, "trainset materials", "one material for a stacking model", materials);
    if (!material.empty() && !materials.empty() && sim::material(materials).name != sim::material(material).name)
      throw InputError::at(file, group, "trainset material", material + " (--material)", materials);
    if (have_layers && *have_layers != t.layers)
      throw InputError::at(file, group, "trainset layers", std::to_string(t.layers) + " (--layers)", std::to_string(*have_layers));
    if (have_stacking && *have_stacking != t.stacking)
      throw InputError::at(file, group, "trainset stacking", t.stacking + " (--stacking)", *have_stacking);
  }
  if (t.material.empty()) throw ConfigError("material: expected a material (--material, or the trainset's 'material' attribute), found none");
  if (t.layers == 0) throw ConfigError("layers: expected 2 or 3 (--layers, or the trainset's 'layers' attribute), found none");
  if (t.stacking.empty()) throw ConfigError("stacking: expected a stacking (--stacking, or the trainset's 'stacking' attribute), found none");
  t.cell = sim::layer_cell(t.material);  // ConfigError naming the known materials
  t.material = t.cell.material;
  for (int b = 0; b < sim::bottom_orientations(t.material); ++b) t.symmetry.push_back(sim::label_symmetry(t.material, t.layers, t.stacking, task, b));
  if (task == "twist") t.values = {"twist_deg"};
  else
    for (int k = 0; k < t.interfaces(); ++k) t.values.push_back("slip_a_" + std::to_string(k)), t.values.push_back("slip_b_" + std::to_string(k));
  return t;
}

std::vector<double> stacking_targets(const StackingTask& t, const std::string& file, const std::string& group) {
  h5::File f = h5::File::open(file, h5::Mode::read, nullptr);
  const h5::Group g = f.group(group);
  const std::int64_t n = patch_count(g, file);
  const auto a1x = read_label(g, file, "a1_x_A", n), a1y = read_label(g, file, "a1_y_A", n);
  const auto a2x = read_label(g, file, "a2_x_A", n), a2y = read_label(g, file, "a2_y_A", n);
  const auto phi = read_label(g, file, "phi_deg", n);
  std::vector<std::vector<double>> slips;
  std::vector<double> twist;
  if (t.task == "twist") twist = read_label(g, file, "twist_deg", n);
  for (int k = 0; k < t.interfaces(); ++k) {
    const std::string suffix = k == 0 ? "" : "_" + std::to_string(k);
    slips.push_back(read_label(g, file, "slip_x_A" + suffix, n));
    slips.push_back(read_label(g, file, "slip_y_A" + suffix, n));
  }
  const std::size_t width = t.values.size() + 1;
  std::vector<double> out;
  out.reserve(std::size_t(n) * width);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto at = std::size_t(i);
    const sim::CanonicalBasis b = sim::canonical_basis(t.cell, {a1x[at], a1y[at]}, {a2x[at], a2y[at]}, phi[at]);
    if (!(std::abs(b.rotation_deg) <= kMaxRotationDeg && std::abs(b.scale - 1) <= kMaxScaleError))
      throw InputError::at(file, g.path() + "/labels/a1_x_A", "patch " + std::to_string(i),
                           "a lattice in the canonical frame (within " + str::number(kMaxRotationDeg) + " deg and " +
                               str::number(100 * kMaxScaleError) + " % of " + t.material +
                               "'s cell; make-trainset --phi-set-deg 30,90 for MX2, 0,180 for 1T'')",
                           "a lattice turned by " + str::number(b.rotation_deg) + " deg and scaled by " + str::number(b.scale));
    if (t.task == "twist") out.push_back(twist[at]);
    for (int k = 0; k < t.interfaces(); ++k) {
      const auto fr = sim::lattice_fractions(b, slips[std::size_t(2 * k)][at], slips[std::size_t(2 * k + 1)][at]);
      out.push_back(fr[0]), out.push_back(fr[1]);
    }
    out.push_back(t.task == "twist" ? 0.0 : double(b.bottom));
  }
  return out;
}

learn::TargetSymmetry target_symmetry(const StackingTask& t) {
  learn::TargetSymmetry s;
  s.values = std::int64_t(t.values.size());
  const auto& first = t.symmetry.front();
  s.period = first.period;
  const std::size_t twist_classes = 1;  // a twist's group does not depend on the bottom orientation
  for (std::size_t c = 0; c < (t.task == "twist" ? twist_classes : t.symmetry.size()); ++c) {
    std::vector<learn::TargetSymmetry::Map> group;
    for (std::size_t g = 0; g < t.symmetry[c].maps.size(); ++g) group.push_back({t.symmetry[c].maps[g], t.symmetry[c].offsets[g]});
    s.classes.push_back(group);
  }
  if (t.task == "slip") {
    // e = (a1c a2c) d per interface: upper triangular, as a1c lies along +x; (a1c a2c)^T (a1c a2c)
    // is the symmetry's metric.
    const auto K = std::size_t(s.values);
    s.error_matrix.assign(K * K, 0.0);
    for (std::size_t k = 0; k < K; k += 2) {
      s.error_matrix[k * K + k] = t.cell.a1[0], s.error_matrix[k * K + k + 1] = t.cell.a2[0];
      s.error_matrix[(k + 1) * K + k] = t.cell.a1[1], s.error_matrix[(k + 1) * K + k + 1] = t.cell.a2[1];
    }
  }
  s.validate();
  return s;
}

learn::Metrics stacking_metrics(const StackingTask& t, const learn::TargetSymmetry& s) {
  return [t, s](const torch::Tensor& prediction, const torch::Tensor& target) {
    std::map<std::string, double> m;
    const torch::Tensor e = per_sample_errors(t, s, prediction, target);
    if (t.task == "twist") {
      m["mean_dtheta_deg"] = e.select(1, 0).mean().item<double>();
      m["fraction_theta_not_60_minus_theta"] = e.select(1, 1).mean().item<double>();
      return m;
    }
    m["mean_dD_A"] = e.mean().item<double>();
    m["fraction_dD_below_0.05A"] = (e < 0.05).to(torch::kFloat).mean().item<double>();
    if (t.interfaces() > 1)
      for (int k = 0; k < t.interfaces(); ++k) m["mean_dD_A_" + std::to_string(k)] = e.select(1, k).mean().item<double>();
    return m;
  };
}

std::vector<double> stacking_errors(const par::Comm& comm, learn::Network& network, learn::TrainsetStream& data,
                                    const std::vector<std::int64_t>& indices, const StackingTask& t, const learn::TargetSymmetry& s,
                                    std::int64_t batch) {
  const std::int64_t n = std::int64_t(indices.size()), width = t.task == "twist" ? 2 : t.interfaces();
  std::vector<double> out(std::size_t(n * width), 0.0);
  const par::Range mine = par::block_partition(n, comm.size(), comm.rank());
  const bool was_training = network.is_training();
  network.eval();
  par::collectively(comm, [&] {
    torch::NoGradGuard no_grad;
    for (std::int64_t first = mine.begin; first < mine.end; first += batch) {
      const auto from = indices.begin() + std::ptrdiff_t(first);
      const learn::Batch b = data.read(std::vector<std::int64_t>(from, from + std::ptrdiff_t(std::min(batch, mine.end - first))));
      const torch::Tensor e = per_sample_errors(t, s, network.forward(learn::batch_inputs(b)), learn::batch_targets(b)).to(torch::kDouble);
      std::copy(e.data_ptr<double>(), e.data_ptr<double>() + e.numel(), out.begin() + std::ptrdiff_t(first * width));
    }
  });
  network.train(was_training);
  // Each sample's errors sit at its index, zero elsewhere: the sum over ranks is every error.
  comm.allreduce_inplace(out.data(), out.size(), par::Op::sum);
  return out;
}

std::map<std::string, double> stacking_summary(const StackingTask& t, const std::vector<double>& errors) {
  std::map<std::string, double> m;
  if (t.task == "twist") {
    std::vector<double> d;
    double resolved = 0;
    for (std::size_t i = 0; i + 1 < errors.size(); i += 2) d.push_back(errors[i]), resolved += errors[i + 1];
    m["samples"] = double(d.size());
    m["mean_dtheta_deg"] = d.empty() ? NAN : std::accumulate(d.begin(), d.end(), 0.0) / double(d.size());
    m["p95_dtheta_deg"] = percentile(d, 0.95);
    m["fraction_theta_not_60_minus_theta"] = d.empty() ? NAN : resolved / double(d.size());
    return m;
  }
  const auto L = std::size_t(t.interfaces());
  auto summarise = [&](const std::vector<double>& d, const std::string& suffix) {
    m["mean_dD_A" + suffix] = d.empty() ? NAN : std::accumulate(d.begin(), d.end(), 0.0) / double(d.size());
    m["p95_dD_A" + suffix] = percentile(d, 0.95);
    m["fraction_dD_below_0.05A" + suffix] =
        d.empty() ? NAN : double(std::count_if(d.begin(), d.end(), [](double v) { return v < 0.05; })) / double(d.size());
  };
  summarise(errors, "");
  if (L > 1)
    for (std::size_t k = 0; k < L; ++k) {
      std::vector<double> d;
      for (std::size_t i = k; i < errors.size(); i += L) d.push_back(errors[i]);
      summarise(d, "_" + std::to_string(k));
    }
  m["samples"] = double(errors.size() / std::max<std::size_t>(L, 1));
  return m;
}

std::map<std::string, double> constant_prediction_summary(const StackingTask& t, const learn::TargetSymmetry& s,
                                                          const std::vector<double>& targets, const std::vector<double>& evaluated) {
  // The mean of the folded training targets (each class's canonical representative: a slip in
  // one fundamental cell, a twist in [0, 60]), predicted for every evaluated sample.
  const std::size_t K = t.values.size(), W = K + 1;
  std::vector<double> mean(K, 0.0);
  for (std::size_t i = 0; i + W <= targets.size(); i += W) {
    const auto& sym = t.symmetry[std::size_t(targets[i + K])];
    const auto folded = sim::fold_label(sym, std::vector<double>(targets.begin() + std::ptrdiff_t(i), targets.begin() + std::ptrdiff_t(i + K)));
    for (std::size_t k = 0; k < K; ++k) mean[k] += folded[k] / double(targets.size() / W);
  }
  const auto rows = std::int64_t(evaluated.size() / W);
  const torch::Tensor target = torch::tensor(std::vector<float>(evaluated.begin(), evaluated.end())).view({rows, std::int64_t(W)});
  const torch::Tensor prediction = torch::tensor(std::vector<float>(mean.begin(), mean.end())).view({1, std::int64_t(K)}).expand({rows, std::int64_t(K)});
  const torch::Tensor e = per_sample_errors(t, s, prediction, target).to(torch::kDouble).contiguous();
  return stacking_summary(t, std::vector<double>(e.data_ptr<double>(), e.data_ptr<double>() + e.numel()));
}

}  // namespace tmdflow::stages
