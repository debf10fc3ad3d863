#include "atoms_table.hpp"

#include <filesystem>

#include "tmdflow/io/figure.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/io/plot.hpp"
#include "tmdflow/io/plot_curves.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/product.hpp"
#include "tmdflow/sim/site_classes.hpp"

namespace tmdflow::stages {

constexpr int C = kSiteClassCount;

bool is_defect_class(int c) {
  return c == sim::metal_vacancy_site || c == sim::host_single || c == sim::alloy_single || c == sim::chalcogen_vacancy_site;
}

std::vector<std::int64_t> AtomsTable::counts() const {
  std::vector<std::int64_t> n(std::size_t(frames * C), 0);
  for (const auto& r : rows)
    if (r.cls >= 0 && r.frame >= 0 && r.frame < frames) ++n[std::size_t(r.frame * C + r.cls)];
  return n;
}

void write_atoms_table(const io::h5::Group& g, const AtomsTable& t) {
  std::vector<std::int32_t> frame;
  std::vector<float> x, y, probability;
  std::vector<std::int8_t> cls, unconstrained, network, sublattice, found;
  for (const auto& r : t.rows) {
    frame.push_back(r.frame), x.push_back(r.x), y.push_back(r.y);
    cls.push_back(r.cls), unconstrained.push_back(r.unconstrained), network.push_back(r.network), sublattice.push_back(r.sublattice),
        found.push_back(r.found);
    probability.insert(probability.end(), r.probability.begin(), r.probability.end());
  }
  const std::string names = str::join(t.class_names, ",");
  const auto M = std::int64_t(t.rows.size());
  g.write_vector("frame", frame);
  g.write_vector("x_px", x).set_attr("units", "pixels");
  g.write_vector("y_px", y).set_attr("units", "pixels");
  g.write_vector("site_class", cls).set_attr("class_names", names);
  g.write_vector("site_class_unconstrained", unconstrained)
      .set_attr("meaning", "the network's strongest class without the lattice graph (-1: a site only the lattice graph found)");
  g.write_vector("site_class_network", network)
      .set_attr("meaning", "the class under the sublattice constraint from the network's evidence alone (before the intensity model)");
  g.write_vector("sublattice", sublattice).set_attr("values", "0 metal, 1 chalcogen");
  g.write_vector("found", found).set_attr("meaning", "1: found by segment-atoms; 0: an empty site added by the lattice graph");
  io::h5::Dataset p = g.create_dataset("probability", io::Dtype::f32, {M, C});
  p.write_whole<float>(probability.data());
  p.set_attr("meaning", "probability per class (columns in the order of class_names), zero off the site's sublattice");
  g.write_strings("class_names", t.class_names);
  const std::vector<std::int64_t> counts = t.counts();
  io::h5::Dataset n = g.create_dataset("counts", io::Dtype::i64, {t.frames, C});
  n.write_whole<std::int64_t>(counts.data());
  n.set_attr("meaning", "sites of each class per image (columns in the order of class_names)");
  {
    io::h5::Group d = g.create_group("defects");
    std::vector<std::int32_t> df;
    std::vector<float> dx, dy;
    std::vector<std::int8_t> dc;
    for (const auto& r : t.rows)
      if (is_defect_class(r.cls)) df.push_back(r.frame), dx.push_back(r.x), dy.push_back(r.y), dc.push_back(r.cls);
    d.write_vector("frame", df);
    d.write_vector("x_px", dx).set_attr("units", "pixels");
    d.write_vector("y_px", dy).set_attr("units", "pixels");
    d.write_vector("site_class", dc).set_attr("class_names", names);
  }
  if (t.intensity_model.size() == std::size_t(t.frames * 8)) {
    io::h5::Dataset im = g.create_dataset("intensity_model", io::Dtype::f64, {t.frames, 8});
    im.write_whole<double>(t.intensity_model.data());
    im.set_attr("columns", "fitted (0/1), background, k of " + t.class_names[0] + ", " + t.class_names[1] + ", " + t.class_names[6] + ", " +
                               t.class_names[7] + ", sd of the metal sites, sd of the chalcogen columns (the image's units)");
  }
  {
    io::h5::Group c = g.create_group("composition");
    c.set_attr("radius_A", t.composition_radius_A);
    c.set_attr("step_A", t.composition_step_A);
    c.set_attr("grid", "map pixel (i, j) is the neighbourhood of image point ((j + 0.5) step, (i + 0.5) step)");
    for (const char* which : {"x", "y"}) {
      io::h5::Dataset d = c.create_dataset(which, io::Dtype::f32, {t.frames, t.grid_ny, t.grid_nx});
      d.write_whole<float>((which[0] == 'x' ? t.composition_x : t.composition_y).data());
      d.set_attr("meaning", which[0] == 'x' ? "alloying metal / metal atoms on the metal sites of the neighbourhood (NaN: none)"
                                            : "alloying chalcogen / chalcogen atoms on the chalcogen columns of the neighbourhood (NaN: none)");
    }
  }
  g.set_attr("source", t.source);
  g.set_attr("columns", t.columns);
  g.set_attr("frames", t.frames);
  g.set_attr("height", t.height);
  g.set_attr("width", t.width);
  g.set_attr("pixel_size_A", t.pixel_A);
}

AtomsTable read_atoms_table(const std::string& spec) {
  const io::Target target = io::parse_target(spec, "/atoms");
  if (!io::h5::File::is_hdf5(target.file)) throw InputError(target.file + ": expected an HDF5 file holding classified sites (classify-sites), found another kind of file");
  const auto file = io::FileRegistry::open(target.file, io::h5::Mode::read, nullptr);
  const io::h5::Group root = file->root();
  if (root.kind(target.group) != io::h5::LinkKind::group) throw InputError(target.str() + ": expected an atoms/1 product (classify-sites), found nothing");
  const io::h5::Group g = root.open_group(target.group);
  const auto info = io::read_product_attrs(g);
  if (!info || info->schema != "atoms/1")
    throw InputError(target.str() + ": tmdflow_product: expected atoms/1 (classify-sites), found " + (info ? info->schema : std::string("no product")));
  AtomsTable t;
  t.source = g.attr_string("source").value_or("");
  t.columns = g.attr_string("columns").value_or("");
  t.frames = g.attr_int("frames").value_or(0);
  t.height = g.attr_int("height").value_or(0);
  t.width = g.attr_int("width").value_or(0);
  t.pixel_A = g.attr_double("pixel_size_A").value_or(0);
  if (t.frames < 1 || t.height < 1 || t.width < 1 || !(t.pixel_A > 0))
    throw InputError(target.str() + ": attributes frames, height, width, pixel_size_A: expected positive values");
  auto need = [&](const std::string& name) {
    if (g.kind(name) != io::h5::LinkKind::dataset) throw InputError::at(target.file, g.path() + "/" + name, "classified sites", "a dataset", "nothing");
    return g.open_dataset(name);
  };
  t.class_names = need("class_names").read_strings();
  if (t.class_names.size() != std::size_t(C))
    throw InputError::at(target.file, g.path() + "/class_names", "classes", std::to_string(C) + " site classes", std::to_string(t.class_names.size()));
  const auto frame = need("frame").read_all<std::int32_t>();
  const std::size_t M = frame.size();
  auto column = [&](const std::string& name) {
    io::h5::Dataset d = need(name);
    if (d.rank() != 1 || std::size_t(d.shape()[0]) != M)
      throw InputError::at(target.file, d.path(), "shape", "(" + std::to_string(M) + ",) like frame", str::shape_string(d.shape()));
    return d;
  };
  const auto x = column("x_px").read_all<float>(), y = column("y_px").read_all<float>();
  const auto cls = column("site_class").read_all<std::int8_t>(), un = column("site_class_unconstrained").read_all<std::int8_t>();
  const auto sub = column("sublattice").read_all<std::int8_t>(), found = column("found").read_all<std::int8_t>();
  const auto network = column("site_class_network").read_all<std::int8_t>();
  const io::h5::Dataset p = need("probability");
  if (p.rank() != 2 || std::size_t(p.shape()[0]) != M || p.shape()[1] != C)
    throw InputError::at(target.file, p.path(), "shape", "(" + std::to_string(M) + ", " + std::to_string(C) + ")", str::shape_string(p.shape()));
  const auto prob = p.read_all<float>();
  t.rows.resize(M);
  for (std::size_t i = 0; i < M; ++i) {
    if (frame[i] < 0 || frame[i] >= t.frames || cls[i] < 0 || cls[i] >= C)
      throw InputError::at(target.file, g.path() + "/site_class", "row " + std::to_string(i), "a frame below " + std::to_string(t.frames) + " and a class 0-8",
                           "frame " + std::to_string(frame[i]) + ", class " + std::to_string(int(cls[i])));
    auto& r = t.rows[i];
    r.frame = frame[i], r.x = x[i], r.y = y[i], r.cls = cls[i], r.unconstrained = un[i], r.network = network[i], r.sublattice = sub[i], r.found = found[i];
    std::copy_n(prob.begin() + std::ptrdiff_t(i * C), C, r.probability.begin());
  }
  if (g.kind("intensity_model") == io::h5::LinkKind::dataset) {
    const io::h5::Dataset d = g.open_dataset("intensity_model");
    if (d.rank() == 2 && d.shape()[0] == t.frames && d.shape()[1] == 8) t.intensity_model = d.read_all<double>();
  }
  if (g.kind("composition") == io::h5::LinkKind::group) {
    const io::h5::Group c = g.open_group("composition");
    t.composition_radius_A = c.attr_double("radius_A").value_or(0);
    t.composition_step_A = c.attr_double("step_A").value_or(0);
    for (const char* which : {"x", "y"}) {
      if (c.kind(which) != io::h5::LinkKind::dataset) continue;
      const io::h5::Dataset d = c.open_dataset(which);
      if (d.rank() != 3 || d.shape()[0] != t.frames)
        throw InputError::at(target.file, d.path(), "shape", "(" + std::to_string(t.frames) + ", Gy, Gx)", str::shape_string(d.shape()));
      t.grid_ny = d.shape()[1], t.grid_nx = d.shape()[2];
      (which[0] == 'x' ? t.composition_x : t.composition_y) = d.read_all<float>();
    }
  }
  return t;
}

void write_atoms_figures(const StageContext& ctx, const AtomsTable& t, const std::string& images_option, const std::string& figures) {
  namespace fs = std::filesystem;
  const std::string images = images_option.empty() ? t.source : images_option;
  if (images.empty() || figures_folder(figures, ctx.output.file).empty()) return;
  const io::ImageStackReader reader = io::ImageStackReader::open(images);
  const auto& meta = reader.meta();
  if (meta.height != t.height || meta.width != t.width)
    throw InputError(images + ": expected images of " + std::to_string(t.height) + " x " + std::to_string(t.width) + " as the sites say, found " +
                     std::to_string(meta.height) + " x " + std::to_string(meta.width));
  const std::int64_t h = std::min<std::int64_t>(meta.height, 1024), w = std::min<std::int64_t>(meta.width, 1024);
  std::vector<float> full(std::size_t(meta.height * meta.width)), image(std::size_t(h * w));
  reader.read_frames_as<float>(0, 1, full.data());
  for (std::int64_t i = 0; i < h; ++i) std::copy_n(full.begin() + std::ptrdiff_t(i * meta.width), w, image.begin() + std::ptrdiff_t(i * w));
  io::plot::Panel panel = io::plot::intensity_panel("image 0", image, h, w, io::plot::scan_axes(t.pixel_A, "A"), "intensity", io::robust_scale(image));
  panel.colour_bar.reset();
  io::plot::Legend legend{"site class", {}};
  for (int c = 0; c < C; ++c) legend.entries.push_back({io::plot::series_colour(c), t.class_names[std::size_t(c)]});
  panel.legend = legend;
  for (const auto& r : t.rows) {
    if (r.frame != 0 || r.x >= double(w) || r.y >= double(h) || r.cls < 0) continue;
    io::plot::Mark mark;
    mark.colour = io::plot::series_colour(r.cls);
    if (!is_defect_class(r.cls)) {
      mark.kind = io::plot::Mark::Kind::circle;
      mark.x0 = r.x, mark.y0 = r.y, mark.radius = 0.45 / t.pixel_A;
      mark.line_width = 1.2;
      panel.marks.push_back(mark);
      continue;
    }
    const double d = 0.6 / t.pixel_A;  // a cross
    mark.line_width = 2.0;
    for (int k = 0; k < 2; ++k) {
      mark.x0 = r.x - d, mark.x1 = r.x + d;
      mark.y0 = r.y - (k ? -d : d), mark.y1 = r.y + (k ? -d : d);
      panel.marks.push_back(mark);
    }
  }
  const fs::path dir = figures_folder(figures, ctx.output.file);
  fs::create_directories(dir);
  const std::string stem = fs::path(ctx.output.file).stem().string();
  io::plot::write_figure((dir / (stem + "_sites.png")).string(), panel,
                         "Image 0 of " + images + " with every lattice site classified under the sublattice constraint, in the colour of its class "
                         "(legend); crosses mark the defects (empty metal sites, chalcogen columns missing one or both atoms).");
  if (t.grid_ny < 1 || t.grid_nx < 1 || t.composition_x.size() < std::size_t(t.grid_ny * t.grid_nx)) return;
  const std::size_t n = std::size_t(t.grid_ny * t.grid_nx);
  const std::vector<float> x(t.composition_x.begin(), t.composition_x.begin() + std::ptrdiff_t(n)),
      y(t.composition_y.begin(), t.composition_y.begin() + std::ptrdiff_t(n));
  io::ColourScale unit;
  unit.lo = 0, unit.hi = 1, unit.ramp = io::Ramp::heat;
  io::plot::Figure fig;
  fig.columns = 2;
  const std::string metal = t.class_names[1] + "/(" + t.class_names[0] + "+" + t.class_names[1] + ")";
  const std::string chalcogen = t.class_names[7] + "/(" + t.class_names[6] + "+" + t.class_names[7] + ")";
  fig.panels.push_back(io::plot::intensity_panel("x = " + metal, x, t.grid_ny, t.grid_nx, io::plot::scan_axes(t.composition_step_A, "A"), "x", unit));
  fig.panels.push_back(io::plot::intensity_panel("y = " + chalcogen, y, t.grid_ny, t.grid_nx, io::plot::scan_axes(t.composition_step_A, "A"), "y", unit));
  io::plot::write_figure((dir / (stem + "_composition.png")).string(), fig,
                         "Local composition of image 0 of " + images + ": the alloying metal's share of the metal sites (left) and the alloying "
                         "chalcogen's share of the chalcogen atoms (right) within " + str::number(t.composition_radius_A) +
                             " A of each point, from the classified sites.");
}

}  // namespace tmdflow::stages
