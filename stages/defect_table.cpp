#include "defect_table.hpp"

#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/io/product.hpp"

namespace tmdflow::stages {

namespace {

template <class T>
std::vector<T> column(const io::h5::Group& g, const std::string& file, const std::string& name, std::size_t rows, bool required) {
  if (g.kind(name) != io::h5::LinkKind::dataset) {
    if (required) throw InputError::at(file, g.path() + "/" + name, "defect table", "a dataset", "nothing");
    return {};
  }
  const io::h5::Dataset d = g.open_dataset(name);
  if (d.rank() != 1 || std::size_t(d.shape()[0]) != rows)
    throw InputError::at(file, d.path(), "shape", "(" + std::to_string(rows) + ",) like frame", str::shape_string(d.shape()));
  return d.read_all<T>();
}

}  // namespace

DefectTable read_defect_table(const std::string& spec, const std::string& default_group, const std::string& need) {
  const io::Target t = io::parse_target(spec, default_group);
  if (!io::h5::File::is_hdf5(t.file)) throw InputError(t.file + ": expected an HDF5 file holding a defect table (detect-defects), found none");
  const auto file = io::FileRegistry::open(t.file, io::h5::Mode::read, nullptr);
  const io::h5::Group root = file->root();
  if (root.kind(t.group) != io::h5::LinkKind::group) throw InputError(t.str() + ": expected a defects/1, tracks/1 or motifs/1 product, found nothing");
  const io::h5::Group g = root.open_group(t.group);
  const auto info = io::read_product_attrs(g);
  const std::string schema = info ? info->schema : "no product";
  if (schema != "defects/1" && schema != "tracks/1" && schema != "motifs/1")
    throw InputError(t.str() + ": tmdflow_product: expected defects/1, tracks/1 or motifs/1, found " + schema);
  if (need == "tracks" && schema == "defects/1")
    throw InputError(t.str() + ": expected tracked defects (track-defects: tracks/1 or motifs/1), found " + schema);
  if (need == "motifs" && schema != "motifs/1")
    throw InputError(t.str() + ": expected the defects' neighbourhoods (defect-motifs: motifs/1), found " + schema);

  DefectTable d;
  MovieFacts& m = d.movie;
  m.source = g.attr_string("source").value_or("");
  m.frames = g.attr_int("frames").value_or(0);
  m.height = g.attr_int("height").value_or(0);
  m.width = g.attr_int("width").value_or(0);
  m.pixel_size_A = g.attr_double("pixel_size_A").value_or(0);
  m.frame_time_s = g.attr_double("frame_time_s").value_or(0);
  m.dose_e_per_A2 = g.attr_double("dose_e_per_A2").value_or(0);
  m.edge_margin_A = g.attr_double("edge_margin_A").value_or(0);
  m.model_name = g.attr_string("model_name").value_or("");
  m.model_sha256 = g.attr_string("model_sha256").value_or("");
  if (m.frames < 1 || m.height < 1 || m.width < 1 || !(m.pixel_size_A > 0))
    throw InputError(t.str() + ": attributes frames, height, width, pixel_size_A: expected positive values, found " + std::to_string(m.frames) + ", " +
                     std::to_string(m.height) + ", " + std::to_string(m.width) + ", " + str::number(m.pixel_size_A));
  if (g.kind("class_names") != io::h5::LinkKind::dataset) throw InputError::at(t.file, g.path() + "/class_names", "defect table", "a dataset", "nothing");
  d.class_names = g.open_dataset("class_names").read_strings();
  if (g.kind("frame") != io::h5::LinkKind::dataset) throw InputError::at(t.file, g.path() + "/frame", "defect table", "a dataset", "nothing");
  const io::h5::Dataset f = g.open_dataset("frame");
  if (f.rank() != 1) throw InputError::at(t.file, f.path(), "shape", "one dimension", str::shape_string(f.shape()));
  const std::size_t rows = std::size_t(f.shape()[0]);
  d.frame = f.read_all<std::int32_t>();
  d.x_px = column<float>(g, t.file, "x_px", rows, true);
  d.y_px = column<float>(g, t.file, "y_px", rows, true);
  d.defect_class = column<std::int8_t>(g, t.file, "defect_class", rows, true);
  d.score = column<float>(g, t.file, "score", rows, true);
  for (std::size_t k = 0; k < rows; ++k) {
    if (d.frame[k] < 0 || d.frame[k] >= m.frames)
      throw InputError::at(t.file, g.path() + "/frame", "row " + std::to_string(k), "a frame 0.." + std::to_string(m.frames - 1), std::to_string(d.frame[k]));
    if (d.defect_class[k] < 0 || std::size_t(d.defect_class[k]) >= d.class_names.size())
      throw InputError::at(t.file, g.path() + "/defect_class", "row " + std::to_string(k), "a class 0.." + std::to_string(d.class_names.size() - 1),
                           std::to_string(int(d.defect_class[k])));
    if (!std::isfinite(d.x_px[k]) || !std::isfinite(d.y_px[k]))
      throw InputError::at(t.file, g.path() + "/x_px", "row " + std::to_string(k), "a finite position", "NaN or infinity");
  }
  if (schema != "defects/1") {
    d.tracked = true;
    d.track_id = column<std::int32_t>(g, t.file, "track_id", rows, true);
    d.x_A = column<double>(g, t.file, "x_A", rows, true);
    d.y_A = column<double>(g, t.file, "y_A", rows, true);
    if (g.kind("drift_px") != io::h5::LinkKind::dataset) throw InputError::at(t.file, g.path() + "/drift_px", "tracks", "a dataset", "nothing");
    const io::h5::Dataset dp = g.open_dataset("drift_px");
    if (dp.shape() != io::h5::Shape{m.frames, 2})
      throw InputError::at(t.file, dp.path(), "shape", "(" + std::to_string(m.frames) + ", 2)", str::shape_string(dp.shape()));
    d.drift_px = dp.read_all<double>();
  }
  if (schema == "motifs/1") {
    d.classified = true;
    d.complex = column<std::int8_t>(g, t.file, "complex", rows, true);
    d.missing = column<std::int8_t>(g, t.file, "missing", rows, true);
    d.isolated = column<std::int8_t>(g, t.file, "isolated", rows, true);
    d.motif = column<std::int32_t>(g, t.file, "motif", rows, true);
  }
  return d;
}

void write_defect_table(const io::h5::Group& g, const DefectTable& t) {
  const MovieFacts& m = t.movie;
  g.set_attr("source", m.source);
  g.set_attr("frames", m.frames);
  g.set_attr("height", m.height);
  g.set_attr("width", m.width);
  g.set_attr("pixel_size_A", m.pixel_size_A);
  g.set_attr("frame_time_s", m.frame_time_s);
  if (m.dose_e_per_A2 > 0) g.set_attr("dose_e_per_A2", m.dose_e_per_A2);
  g.set_attr("edge_margin_A", m.edge_margin_A);
  g.set_attr("model_name", m.model_name);
  g.set_attr("model_sha256", m.model_sha256);
  g.write_vector("frame", t.frame);
  g.write_vector("x_px", t.x_px).set_attr("units", "pixels");
  g.write_vector("y_px", t.y_px).set_attr("units", "pixels");
  g.write_vector("defect_class", t.defect_class).set_attr("class_names", str::join(t.class_names, ","));
  g.write_vector("score", t.score);
  g.write_strings("class_names", t.class_names);
  if (t.tracked) {
    g.write_vector("track_id", t.track_id).set_attr("meaning", "track of each defect (0, 1, ... in order of first appearance; -1 untracked)");
    g.write_vector("x_A", t.x_A).set_attr("meaning", "drift-corrected position: (x_px - drift_px[frame, 1]) * pixel_size_A");
    g.write_vector("y_A", t.y_A).set_attr("meaning", "drift-corrected position: (y_px - drift_px[frame, 0]) * pixel_size_A");
    g.write_array("drift_px", t.drift_px, {m.frames, 2}).set_attr("meaning", "(row, col) shift of the content from frame 0, subtracted from x_px, y_px");
  }
  if (t.classified) {
    g.write_vector("complex", t.complex).set_attr("meaning", "dopants: the complex (0 none .. 3 three or more chalcogen atoms missing); -1 otherwise or unknown");
    g.write_vector("missing", t.missing).set_attr("meaning", "dopants: chalcogen atoms missing among its six bonds, as detected");
    g.write_vector("isolated", t.isolated).set_attr("meaning", "1: a single vacancy with no dopant and no vacancy next to it");
    g.write_vector("motif", t.motif).set_attr("meaning", "motif class of the patch around the defect (Gaussian mixture), -1 none");
  }
}

std::string checked_movie(const std::string& input, const std::string& images, const MovieFacts& m) {
  const std::string movie = images.empty() ? m.source : images;
  if (movie.empty()) throw InputError(input + ": attribute source: expected the movie detect-defects read, found none (give --images)");
  const io::ImageStackReader reader = io::ImageStackReader::open(movie);
  const auto& im = reader.meta();
  if (im.frames != m.frames || im.height != m.height || im.width != m.width)
    throw InputError(movie + ": images/data: expected the defect table's " + std::to_string(m.frames) + " x " + std::to_string(m.height) +
                     " x " + std::to_string(m.width) + " frames, found " + std::to_string(im.frames) + " x " + std::to_string(im.height) +
                     " x " + std::to_string(im.width));
  return movie;
}

}  // namespace tmdflow::stages
