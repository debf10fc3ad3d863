#include "tmdflow/analysis/landscape/slip_campaign.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>

#include "tmdflow/analysis/landscape/campaign_figures.hpp"
#include "tmdflow/analysis/landscape/slip_density.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/numeric.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/product.hpp"
#include "tmdflow/sim/interlayer_energy.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::analysis {
namespace {

constexpr int kPointFields = 5;  // present, slip_a, slip_b, Da, Db

CampaignTally make_tally(const sim::LabelSymmetry& symmetry, const EnergyGrid& fine, const EnergyGrid& folded, const sim::LayerCell& cell,
                         const SlipCampaignOptions& o) {
  Basins folded_basins = merge_equivalent_basins(watershed_basins(folded, o.min_depth_meV), symmetry);
  Basins unfolded_basins = watershed_basins(fine, o.min_depth_meV);
  std::optional<SlipHistogram> tedgen;
  if (cell.triclinic) tedgen = tedgen_histogram(o.tedgen_bin_A);
  return CampaignTally(symmetry, std::move(folded_basins), std::move(unfolded_basins),
                       fraction_histogram(o.bins, o.bins, {cell.a1[0], cell.a1[1]}, {cell.a2[0], cell.a2[1]}), std::move(tedgen),
                       o.min_confidence);
}

EnergyGrid from_lowest(EnergyGrid g) {
  const double lowest = g.min();
  for (double& e : g.energy_meV) e -= lowest;
  return g;
}

}  // namespace

StackingMapsHeader inspect_stacking_maps(const io::h5::Group& g) {
  const std::string file = g.file_name(), path = g.path();
  const auto info = io::read_product_attrs(g);
  if (!info || info->schema != "stacking/1")
    throw InputError::at(file, path, "product", "stacking/1 (stage infer-stacking)", info ? info->schema : "no tmdflow product");
  if (!info->complete) throw InputError::at(file, path, "tmdflow_complete", "a complete product", "an unfinished one (rerun infer-stacking)");
  StackingMapsHeader h;
  h.material = g.attr_string("material").value_or("");
  h.stacking = g.attr_string("stacking").value_or("");
  h.source = g.attr_string("source").value_or("");
  h.task = g.attr_string("task").value_or("");
  h.layers = g.attr_int("layers").value_or(0);
  if (!h.bilayer_slip())
    throw InputError::at(file, path, "task, layers", "the slip of bilayers (task slip, layers 2)",
                         "task " + h.task + ", layers " + std::to_string(h.layers));
  for (const char* name : {"maps/slip_a", "maps/slip_b", "maps/confidence", "slip_a", "slip_b"})
    if (g.kind(name) != io::h5::LinkKind::dataset) throw InputError::at(file, path + "/" + name, "dataset", "present", "none");
  const auto s = g.open_dataset("maps/slip_a").shape();
  if (s.size() != 4 || s[1] != 1) throw InputError::at(file, path + "/maps/slip_a", "shape", "[N, 1, R, K]", str::shape_string(s));
  h.images = s[0], h.rows = s[2], h.cols = s[3];
  for (const char* name : {"maps/slip_b", "maps/confidence"}) {
    auto c = g.open_dataset(name).shape();
    if (c.size() == 3) c.insert(c.begin() + 1, 1);
    if (c != s) throw InputError::at(file, path + "/" + name, "shape", "that of maps/slip_a " + str::shape_string(s), str::shape_string(c));
  }
  for (const char* name : {"slip_a", "slip_b"}) {
    const auto w = g.open_dataset(name).shape();
    if (w.empty() || w[0] != h.images)
      throw InputError::at(file, path + "/" + name, "shape", "[" + std::to_string(h.images) + ", 1] (one per image)", str::shape_string(w));
  }
  h.tedgen = sim::layer_cell(h.material).triclinic;
  if (h.tedgen)
    for (const char* name : {"maps/tedgen_Da_A", "maps/tedgen_Db_A", "tedgen_Da_A", "tedgen_Db_A"})
      if (g.kind(name) != io::h5::LinkKind::dataset) throw InputError::at(file, path + "/" + name, "dataset", "present (" + h.material + ")", "none");
  return h;
}

std::vector<CampaignWindow> read_stacking_windows(const io::h5::Group& g, const StackingMapsHeader& h, std::int64_t n) {
  const std::int64_t R = h.rows, K = h.cols;
  std::vector<double> sa(static_cast<std::size_t>(R * K)), sb = sa, conf = sa, da(sa.size(), kNaN), db = da;
  const auto x = io::h5::Xfer::independent;
  g.open_dataset("maps/slip_a").read<double>({n, 0, 0, 0}, {1, 1, R, K}, sa.data(), x);
  g.open_dataset("maps/slip_b").read<double>({n, 0, 0, 0}, {1, 1, R, K}, sb.data(), x);
  const io::h5::Dataset c = g.open_dataset("maps/confidence");
  if (c.shape().size() == 3) c.read<double>({n, 0, 0}, {1, R, K}, conf.data(), x);
  else c.read<double>({n, 0, 0, 0}, {1, 1, R, K}, conf.data(), x);
  if (h.tedgen) {
    g.open_dataset("maps/tedgen_Da_A").read<double>({n, 0, 0, 0}, {1, 1, R, K}, da.data(), x);
    g.open_dataset("maps/tedgen_Db_A").read<double>({n, 0, 0, 0}, {1, 1, R, K}, db.data(), x);
  }
  std::vector<CampaignWindow> windows(sa.size());
  for (std::size_t w = 0; w < windows.size(); ++w) windows[w] = {sa[w], sb[w], da[w], db[w], conf[w]};
  return windows;
}

std::vector<SlipImage> read_stacking_images(const io::h5::Group& g, const StackingMapsHeader& h) {
  const auto first_column = [&](const char* name) {
    const io::h5::Dataset d = g.open_dataset(name);
    const std::vector<double> all = d.read_all<double>();
    const std::size_t per = h.images > 0 ? all.size() / std::size_t(h.images) : 1;  // [N] or [N, L-1]: interface 0
    std::vector<double> out(static_cast<std::size_t>(h.images));
    for (std::size_t n = 0; n < out.size(); ++n) out[n] = all[n * per];
    return out;
  };
  const std::vector<double> a = first_column("slip_a"), b = first_column("slip_b");
  const std::vector<double> da = h.tedgen ? first_column("tedgen_Da_A") : std::vector<double>(a.size(), kNaN);
  const std::vector<double> db = h.tedgen ? first_column("tedgen_Db_A") : std::vector<double>(a.size(), kNaN);
  std::vector<SlipImage> images(a.size());
  for (std::size_t n = 0; n < images.size(); ++n) images[n] = {"", a[n], b[n], da[n], db[n]};
  return images;
}

EnergyGrid builtin_landscape(const std::string& material, const std::string& stacking, const std::string& potential, int na, int nb,
                             std::int64_t row_begin, std::int64_t row_end, std::string& source) {
  sim::InterlayerEnergySpec spec;
  spec.material = material, spec.stacking = stacking, spec.potential = potential;
  const sim::InterlayerEnergyModel model(spec);
  EnergyGrid grid;
  grid.na = na, grid.nb = nb;
  grid.energy_meV.assign(std::size_t(na) * std::size_t(nb), 0.0);
  for (std::int64_t ib = std::max<std::int64_t>(0, row_begin); ib < std::min<std::int64_t>(nb, row_end); ++ib)
    for (int ia = 0; ia < na; ++ia) grid.energy_meV[std::size_t(ib) * std::size_t(na) + std::size_t(ia)] = model.at(double(ia) / na, double(ib) / nb).energy_meV;
  const auto& v = model.base_vectors();
  grid.a1_A = {v.a1[0], v.a1[1]}, grid.a2_A = {v.a2[0], v.a2[1]};
  source = "built-in estimate: " + std::string(potential == "ilp" ? "ILP" : "UFF Lennard-Jones") + ", rigid layers, spacing relaxed per slip (" +
           std::to_string(na) + " x " + std::to_string(nb) + " slips)";
  return grid;
}

SlipCampaign::SlipCampaign(const std::string& material, const std::string& stacking, EnergyGrid landscape, std::string landscape_source,
                           SlipCampaignOptions options)
    : material_(material),
      stacking_(stacking),
      landscape_source_(std::move(landscape_source)),
      options_(options),
      symmetry_(sim::label_symmetry(material, 2, stacking, "slip")),
      grid_(from_lowest(std::move(landscape))),
      fine_(resample_landscape(grid_, options.basin_grid, options.basin_grid)),
      folded_(fold_landscape(fine_, symmetry_)),
      tally_(make_tally(symmetry_, fine_, folded_, sim::layer_cell(material), options)) {
  const sim::LayerCell cell = sim::layer_cell(material);
  a1_ = {cell.a1[0], cell.a1[1]}, a2_ = {cell.a2[0], cell.a2[1]};
}

void SlipCampaign::plan(std::vector<SlipImage> images, std::int64_t windows_total) {
  images_ = std::move(images);
  rows_.assign(images_.size() * std::size_t(columns()), 0.0);
  planned_ = true;
  const std::int64_t limit = options_.figure_points;
  stride_ = limit > 0 ? std::max<std::int64_t>(1, (windows_total + limit - 1) / limit) : windows_total + 1;
  const std::int64_t slots = limit > 0 ? (windows_total + stride_ - 1) / stride_ : 0;
  points_.assign(std::size_t(slots * kPointFields), 0.0);
}

void SlipCampaign::record(std::int64_t n, const ImageTally& t, std::int64_t first_window, const std::vector<CampaignWindow>& windows) {
  double* r = rows_.data() + n * columns();
  r[0] = double(t.kept), r[1] = double(t.low_confidence), r[2] = double(t.missing), r[3] = t.mean_confidence;
  for (std::int64_t b = 0; b < basins(); ++b) r[4 + b] = double(t.basin_count[std::size_t(b)]);
  if (options_.figure_points <= 0) return;
  for (std::size_t w = 0; w < windows.size(); ++w) {
    const std::int64_t at = first_window + std::int64_t(w);
    if (at % stride_ != 0 || t.window_basin[w] < 0) continue;
    const std::size_t slot = std::size_t(at / stride_) * kPointFields;
    if (slot + kPointFields > points_.size()) points_.resize(slot + kPointFields, 0.0);  // streamed: grows
    double* p = points_.data() + slot;
    p[0] = 1, p[1] = windows[w].slip_a, p[2] = windows[w].slip_b, p[3] = windows[w].da_A, p[4] = windows[w].db_A;
  }
}

ImageTally SlipCampaign::add_image(std::int64_t n, std::int64_t first_window, const std::vector<CampaignWindow>& windows) {
  if (!planned_ || n < 0 || n >= images()) throw std::logic_error("SlipCampaign::add_image: image outside the plan");
  const ImageTally t = tally_.add_image(windows);
  record(n, t, first_window, windows);
  return t;
}

ImageTally SlipCampaign::append_image(SlipImage image, const std::vector<CampaignWindow>& windows) {
  if (planned_) throw std::logic_error("SlipCampaign::append_image after plan()");
  images_.push_back(std::move(image));
  rows_.resize(images_.size() * std::size_t(columns()), 0.0);
  const ImageTally t = tally_.add_image(windows);
  // Keep the figure's sample near its limit: when the slots run over twice the limit, keep every
  // other one and double the stride (the same windows as a stride fixed up front would keep).
  const std::int64_t limit = options_.figure_points;
  while (limit > 0 && (windows_seen_ + std::int64_t(windows.size())) / stride_ > 2 * limit) {
    std::vector<double> kept;
    for (std::size_t s = 0; s * kPointFields < points_.size(); s += 2)
      kept.insert(kept.end(), points_.begin() + std::ptrdiff_t(s * kPointFields), points_.begin() + std::ptrdiff_t((s + 1) * kPointFields));
    points_ = std::move(kept);
    stride_ *= 2;
  }
  record(images() - 1, t, windows_seen_, windows);
  windows_seen_ += std::int64_t(windows.size());
  return t;
}

std::vector<double> SlipCampaign::counts() const {
  std::vector<double> all = tally_.counts();
  all.insert(all.end(), rows_.begin(), rows_.end());
  all.insert(all.end(), points_.begin(), points_.end());
  return all;
}

void SlipCampaign::set_counts(const std::vector<double>& all) {
  const std::size_t t = tally_.counts().size();
  if (all.size() != t + rows_.size() + points_.size()) throw std::logic_error("SlipCampaign::set_counts: counts of another campaign");
  tally_.set_counts(std::vector<double>(all.begin(), all.begin() + std::ptrdiff_t(t)));
  std::copy(all.begin() + std::ptrdiff_t(t), all.begin() + std::ptrdiff_t(t + rows_.size()), rows_.begin());
  std::copy(all.begin() + std::ptrdiff_t(t + rows_.size()), all.end(), points_.begin());
}

std::vector<double> SlipCampaign::basin_fraction() const {
  std::vector<double> f(static_cast<std::size_t>(basins()), kNaN);
  for (std::size_t b = 0; b < f.size(); ++b) f[b] = tally_.kept() > 0 ? tally_.basin_count()[b] / tally_.kept() : kNaN;
  return f;
}

std::vector<double> SlipCampaign::image_basin_fraction(std::int64_t n) const {
  const double* r = row(n);
  std::vector<double> f(static_cast<std::size_t>(basins()), kNaN);
  for (std::size_t b = 0; b < f.size() && r[0] > 0; ++b) f[b] = r[4 + b] / r[0];
  return f;
}

std::int32_t SlipCampaign::image_basin(std::int64_t n) const {
  const SlipImage& im = images_[std::size_t(n)];
  return std::isfinite(im.slip_a) && std::isfinite(im.slip_b) ? tally_.folded().at(im.slip_a, im.slip_b) : -1;
}

std::string SlipCampaign::summary() const {
  std::string text = std::to_string(images()) + " images, " + std::to_string(std::int64_t(tally_.kept())) + " windows kept, " +
                     std::to_string(std::int64_t(tally_.low_confidence())) + " below confidence " + str::number(options_.min_confidence) + ", " +
                     std::to_string(std::int64_t(tally_.missing())) + " without a slip; " + std::to_string(basins()) + " basins on the folded landscape:";
  const std::vector<double> f = basin_fraction();
  for (std::size_t b = 0; b < f.size(); ++b) text += " " + std::to_string(b) + ": " + str::number(std::round(f[b] * 1000) / 10) + " %";
  return text;
}

void SlipCampaign::write(const io::h5::Group& g, const std::string& source) const {
  const std::vector<double> fraction = basin_fraction();
  g.set_attr("emd_group_type", "root");
  g.set_attr("python_class", "Root");
  g.set_attr("material", material_);
  g.set_attr("stacking", stacking_);
  g.set_attr("source", source);
  g.set_attr("landscape_source", landscape_source_);
  g.set_attr("landscape_fold", "lower energy of the equivalent slips (the image cannot tell them apart)");
  g.set_attr("a1_A", std::vector<double>{a1_[0], a1_[1]});
  g.set_attr("a2_A", std::vector<double>{a2_[0], a2_[1]});
  g.set_attr("images", images());
  g.set_attr("windows_kept", std::int64_t(tally_.kept()));
  g.set_attr("windows_low_confidence", std::int64_t(tally_.low_confidence()));
  g.set_attr("windows_missing", std::int64_t(tally_.missing()));
  g.set_attr("min_confidence", options_.min_confidence);
  g.set_attr("min_depth_meV", options_.min_depth_meV);
  g.set_attr("bandwidth_A", options_.bandwidth_A);
  g.set_attr("landscape_range_meV", grid_.max());

  // The landscape and its basins.
  const io::h5::Group l = g.create_group("landscape");
  l.write_array("energy_meV", grid_.energy_meV, {grid_.nb, grid_.na}).set_attr("units", "meV per unit cell, relative to the lowest grid point");
  l.write_array("folded_energy_meV", folded_.energy_meV, {folded_.nb, folded_.na})
      .set_attr("units", "meV per unit cell: the lower of the equivalent slips, on the basin grid");
  const Basins& f = tally_.folded();
  const io::h5::Group b = g.create_group("basins");
  b.write_array("map", f.label, {f.nb, f.na}).set_attr("description", "basin of each slip (slip_a = ia / NA, slip_b = ib / NB), folded landscape");
  std::vector<double> ma, mb, me, esc, cnt;
  std::vector<std::int32_t> regions(f.regions.begin(), f.regions.end());
  for (int k = 0; k < f.count(); ++k) {
    const auto& m = f.minimum[std::size_t(k)];
    ma.push_back(m.slip_a), mb.push_back(m.slip_b), me.push_back(m.energy_meV), esc.push_back(f.escape_meV(k));
    cnt.push_back(tally_.basin_count()[std::size_t(k)]);
  }
  b.write_vector("minimum_slip_a", ma).set_attr("units", "fraction of a1");
  b.write_vector("minimum_slip_b", mb).set_attr("units", "fraction of a2");
  b.write_vector("minimum_energy_meV", me).set_attr("units", "meV per unit cell");
  b.write_vector("escape_meV", esc).set_attr("units", "meV per unit cell: lowest pass to another basin above the minimum (inf: none)");
  b.write_vector("regions", regions).set_attr("description", "attraction basins of the folded landscape that are equivalent slips of this one");
  b.write_vector("count", cnt).set_attr("units", "windows");
  b.write_vector("fraction", fraction).set_attr("units", "fraction of the kept windows");

  const Basins& u = tally_.unfolded();
  const io::h5::Group ub = g.create_group("unfolded_basins");
  ub.write_array("map", u.label, {u.nb, u.na}).set_attr("description", "basin of each slip on the landscape itself (not folded)");
  std::vector<double> ua, ubb, ue;
  for (const auto& m : u.minimum) ua.push_back(m.slip_a), ubb.push_back(m.slip_b), ue.push_back(m.energy_meV);
  ub.write_vector("minimum_slip_a", ua);
  ub.write_vector("minimum_slip_b", ubb);
  ub.write_vector("minimum_energy_meV", ue);
  // Pairs: the unfolded basins of the two members of each kept window's class, most frequent first.
  const std::int64_t U = u.count();
  std::vector<std::array<double, 3>> pairs;
  for (std::int64_t x = 0; x < U; ++x)
    for (std::int64_t y = x; y < U; ++y)
      if (const double c = tally_.pair_count()[std::size_t(x * U + y)]; c > 0) pairs.push_back({c, double(x), double(y)});
  std::stable_sort(pairs.begin(), pairs.end(), [](const auto& p, const auto& q) { return p[0] > q[0]; });
  std::vector<std::int32_t> members;
  std::vector<double> pc, pf;
  for (const auto& p : pairs) {
    members.push_back(std::int32_t(p[1])), members.push_back(std::int32_t(p[2]));
    pc.push_back(p[0]), pf.push_back(tally_.kept() > 0 ? p[0] / tally_.kept() : kNaN);
  }
  const io::h5::Group pg = g.create_group("basin_pairs");
  pg.write_array("basins", members, {std::int64_t(pairs.size()), 2}).set_attr("description", "the unfolded basins of a class's two members (first <= second)");
  pg.write_vector("count", pc).set_attr("units", "windows");
  pg.write_vector("fraction", pf).set_attr("units", "fraction of the kept windows");

  // Histograms and densities.
  const SlipHistogram& h = tally_.fractions();
  const io::h5::Group fr = g.create_group("fractions");
  fr.write_array("counts", h.counts, {h.ny, h.nx}).set_attr("description", "kept windows per bin [slip_b, slip_a]; each shared between its class's members");
  fr.write_array("density_per_A2", kernel_density(h, options_.bandwidth_A), {h.ny, h.nx}).set_attr("units", "1/A^2: Gaussian kernel density, sum x bin area = 1");
  fr.write_vector("slip_a_edges", h.x_edges()).set_attr("units", "fraction of a1");
  fr.write_vector("slip_b_edges", h.y_edges()).set_attr("units", "fraction of a2");
  fr.set_attr("bin_area_A2", h.bin_area_A2());
  if (tally_.tedgen()) {
    const SlipHistogram& t = *tally_.tedgen();
    const io::h5::Group d = g.create_group("tedgen");
    d.write_array("counts", t.counts, {t.ny, t.nx}).set_attr("description", "kept windows per bin [Db, Da] of TED-Gen's (Da, Db)");
    d.write_array("density_per_A2", kernel_density(t, options_.bandwidth_A), {t.ny, t.nx}).set_attr("units", "1/A^2 of slip (the oblique bin's area)");
    d.write_vector("Da_edges_A", t.x_edges()).set_attr("units", "A");
    d.write_vector("Db_edges_A", t.y_edges()).set_attr("units", "A");
    d.set_attr("bin_area_A2", t.bin_area_A2());
    d.set_attr("windows_outside", std::int64_t(tally_.outside_tedgen()));
  }

  // Per image.
  const std::int64_t N = images(), B = basins();
  std::vector<std::int64_t> kept(static_cast<std::size_t>(N)), low(kept.size()), missing(kept.size());
  std::vector<double> mean_conf(kept.size()), per_basin(static_cast<std::size_t>(N * B), kNaN), wa, wb, wda, wdb;
  std::vector<std::int32_t> whole_basin(kept.size(), -1);
  std::vector<std::string> names;
  for (std::int64_t n = 0; n < N; ++n) {
    const double* r = row(n);
    kept[std::size_t(n)] = std::int64_t(r[0]), low[std::size_t(n)] = std::int64_t(r[1]), missing[std::size_t(n)] = std::int64_t(r[2]);
    mean_conf[std::size_t(n)] = r[3];
    const std::vector<double> fb = image_basin_fraction(n);
    std::copy(fb.begin(), fb.end(), per_basin.begin() + n * B);
    whole_basin[std::size_t(n)] = image_basin(n);
    const SlipImage& im = images_[std::size_t(n)];
    names.push_back(im.source_file);
    wa.push_back(im.slip_a), wb.push_back(im.slip_b), wda.push_back(im.da_A), wdb.push_back(im.db_A);
  }
  const io::h5::Group im = g.create_group("images");
  im.write_strings("source_file", names);
  im.write_vector("slip_a", wa).set_attr("units", "fraction of a1 (whole image, infer-stacking)");
  im.write_vector("slip_b", wb).set_attr("units", "fraction of a2");
  if (tally_.tedgen()) {
    im.write_vector("tedgen_Da_A", wda).set_attr("units", "A");
    im.write_vector("tedgen_Db_A", wdb).set_attr("units", "A");
  }
  im.write_vector("basin", whole_basin).set_attr("description", "basin of the whole-image slip (folded landscape)");
  im.write_vector("windows", kept).set_attr("description", "windows kept");
  im.write_vector("low_confidence", low).set_attr("description", "windows left out below min_confidence");
  im.write_vector("missing", missing).set_attr("description", "windows without a slip (NaN)");
  im.write_vector("mean_confidence", mean_conf).set_attr("description", "mean confidence of the windows with a slip");
  im.write_array("basin_fraction", per_basin, {N, B}).set_attr("description", "fraction of the image's kept windows in each basin");
}

void SlipCampaign::write_figures(const std::string& dir, const std::string& stem, const std::string& title_source) const {
  CampaignFigureInput f;
  f.material = material_, f.title_source = title_source;
  f.folded = &folded_, f.tally = &tally_, f.symmetry = &symmetry_;
  f.fraction_density = kernel_density(tally_.fractions(), options_.bandwidth_A);
  if (tally_.tedgen()) f.tedgen_density = kernel_density(*tally_.tedgen(), options_.bandwidth_A);
  f.a1_A = a1_, f.a2_A = a2_;
  f.basin_fraction = basin_fraction();
  for (std::size_t s = 0; s * kPointFields < points_.size(); ++s) {
    const double* p = points_.data() + s * kPointFields;
    if (p[0] == 0) continue;
    f.points_fraction.push_back({p[1], p[2]});
    f.points_tedgen.push_back({p[3], p[4]});
  }
  std::filesystem::create_directories(dir);
  write_campaign_figures(dir, stem, f);
}

}  // namespace tmdflow::analysis
