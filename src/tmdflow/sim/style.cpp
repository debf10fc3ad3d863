#include "tmdflow/sim/style.hpp"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "tmdflow/core/error.hpp"
#include "tmdflow/io/product.hpp"

namespace tmdflow::sim {

namespace {

// The style's values as (attribute name, member), in the order they are written.
const std::vector<std::pair<const char*, double Style::*>>& parameter_fields() {
  static const std::vector<std::pair<const char*, double Style::*>> f = {
      {"dose_e_per_A2", &Style::dose_e_per_A2}, {"source_size_A", &Style::source_size_A}, {"jitter_A", &Style::jitter_A},
      {"background", &Style::background},       {"read_noise", &Style::read_noise},       {"contamination", &Style::contamination},
      {"psf_A", &Style::psf_A},                 {"gain", &Style::gain},                   {"offset", &Style::offset},
  };
  return f;
}

const std::vector<std::pair<const char*, double Style::*>>& condition_fields() {
  static const std::vector<std::pair<const char*, double Style::*>> f = {
      {"pixel_A", &Style::pixel_A},           {"voltage_kV", &Style::voltage_kV},   {"convergence_mrad", &Style::convergence_mrad},
      {"detector_inner_mrad", &Style::inner_mrad}, {"detector_outer_mrad", &Style::outer_mrad}, {"defocus_A", &Style::defocus_A},
      {"Cs_A", &Style::Cs_A},
  };
  return f;
}

Range around(double v, double lo_factor, double hi_factor) { return {v * lo_factor, v * hi_factor}; }

}  // namespace

StyleRanges style_ranges(const Style& s) {
  StyleRanges r;
  r.dose = s.dose_e_per_A2 > 0 ? around(s.dose_e_per_A2, 0.5, 2.0) : Range{0, 0};
  const double ds = std::max(0.25 * s.source_size_A, 0.05);
  r.source_size_A = {std::max(0.0, s.source_size_A - ds), s.source_size_A + ds};
  r.jitter_A = around(s.jitter_A, 0.5, 1.5);
  r.background = {0.75 * s.background, std::min(1.0, 1.25 * s.background)};
  r.read_noise = around(s.read_noise, 0.5, 1.5);
  r.psf_A = around(s.psf_A, 0.75, 1.25);
  r.contamination = around(s.contamination, 0.5, 1.5);
  r.defocus_A = {s.defocus_A - 10, s.defocus_A + 10};
  return r;
}

void write_style(const io::h5::Group& g, const Style& s) {
  g.set_attr("material", s.material);
  g.set_attr("stacking", s.stacking);
  g.set_attr("layers", std::int64_t(s.layers));
  for (const auto& [name, member] : condition_fields()) g.set_attr(name, s.*member);
  const io::h5::Group p = g.create_group("parameters");
  for (const auto& [name, member] : parameter_fields()) p.set_attr(name, s.*member);
  const StyleRanges r = style_ranges(s);
  const io::h5::Group rg = g.create_group("ranges");
  for (const auto& [name, range] : {std::pair<const char*, Range>{"dose_range_e_per_A2", r.dose}, {"source_size_range_A", r.source_size_A},
                                    {"jitter_range_A", r.jitter_A}, {"background_range", r.background}, {"read_noise_range", r.read_noise}, {"psf_range_A", r.psf_A},
                                    {"contamination_range", r.contamination}, {"defocus_range_A", r.defocus_A}})
    rg.set_attr(name, std::vector<double>{range.min, range.max});
}

Style read_style(const std::string& spec) {
  const io::Target t = io::parse_target(spec, "/style");
  if (!io::h5::File::is_hdf5(t.file)) throw InputError(t.file + ": style: expected an HDF5 file holding a style/1 product (stage style-fit), found none");
  const auto file = io::FileRegistry::open(t.file, io::h5::Mode::read, nullptr);
  const io::h5::Group root = file->root();
  if (root.kind(t.group) != io::h5::LinkKind::group) throw InputError(t.str() + ": style: expected a style/1 product, found nothing there");
  const io::h5::Group g = root.open_group(t.group);
  const auto info = io::read_product_attrs(g);
  if (!info || info->schema != "style/1")
    throw InputError(t.str() + ": tmdflow_product: expected style/1, found " + (info ? info->schema : std::string("no product")));
  if (!info->complete) throw InputError(t.str() + ": tmdflow_complete: expected a complete style/1 product, found an incomplete one");
  if (g.kind("parameters") != io::h5::LinkKind::group) throw InputError(t.str() + "/parameters: expected the style's values, found none");
  Style s;
  s.where = t.str();
  s.material = g.attr_string("material").value_or("");
  s.stacking = g.attr_string("stacking").value_or("");
  s.layers = int(g.attr_int("layers").value_or(2));
  auto need = [&](const io::h5::Group& from, const char* name) {
    const auto v = from.attr_double(name);
    if (!v || !std::isfinite(*v)) throw InputError::at(t.file, from.path(), name, "a finite number", v ? "a non-finite value" : "no attribute");
    return *v;
  };
  for (const auto& [name, member] : condition_fields()) s.*member = need(g, name);
  const io::h5::Group p = g.open_group("parameters");
  for (const auto& [name, member] : parameter_fields()) s.*member = need(p, name);
  if (s.dose_e_per_A2 < 0 || s.source_size_A < 0 || s.jitter_A < 0 || s.background < 0 || s.read_noise < 0 || s.psf_A < 0 || s.contamination < 0)
    throw InputError::at(t.file, p.path(), "values", "dose, source size, jitter, background, read noise, psf and contamination >= 0", "a negative value");
  return s;
}

}  // namespace tmdflow::sim
