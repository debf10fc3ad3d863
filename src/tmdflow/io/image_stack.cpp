#include "tmdflow/io/image_stack.hpp"

#include <cmath>
#include <limits>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/emd.hpp"

namespace tmdflow::io {

bool has_image_stack_layout(const std::string& schema) { return schema == "image_stack/1" || schema == "movie/1"; }

h5::Shape image_stack_chunks(const ImageStackMeta& meta) {
  if (meta.frame_bytes() <= (std::uint64_t(64) << 20)) return {1, meta.height, meta.width};
  return {1, std::min<std::int64_t>(meta.height, 1024), std::min<std::int64_t>(meta.width, 1024)};
}

ImageStackWriter::ImageStackWriter(const h5::Group& group, const ImageStackMeta& meta) : meta_(meta) {
  group.set_attr("emd_group_type", "root");
  group.set_attr("python_class", "Root");
  const bool cal = meta.calibrated();
  emd::ArraySpec spec;
  spec.name = "images";
  spec.dtype = meta.dtype;
  spec.shape = {meta.frames, meta.height, meta.width};
  spec.python_class = "Array";
  spec.units = "pixel intensity";
  spec.dims = {meta.frame_time_s > 0 ? emd::Dim{"frame", "s", 0.0, meta.frame_time_s} : emd::Dim{"frame", "index", 0.0, 1.0},
               cal ? emd::Dim{"y", "A", 0.0, meta.pixel_size_y_A} : emd::Dim{"y", "pixels", 0.0, 1.0},
               cal ? emd::Dim{"x", "A", 0.0, meta.pixel_size_x_A} : emd::Dim{"x", "pixels", 0.0, 1.0}};
  spec.chunks = image_stack_chunks(meta);
  data_ = emd::create_array(group, spec);
  group.set_attr("pixel_size_y_A", cal ? meta.pixel_size_y_A : 0.0);
  group.set_attr("pixel_size_x_A", cal ? meta.pixel_size_x_A : 0.0);
  group.set_attr("calibrated", std::int64_t(cal ? 1 : 0));
  group.set_attr("frame_time_s", meta.frame_time_s > 0 ? meta.frame_time_s : 0.0);
  for (const auto& [k, v] : meta.acquisition)
    if (k != "frame_time_s") group.set_attr(k, v);
  const h5::Group frames = group.create_group("frames");
  frames.write_strings("source_file", meta.source_file);
  frames.write_strings("title", meta.title);
  frames.write_vector("frame_in_source", meta.frame_in_source);
  for (const auto& [k, v] : meta.frame_acquisition) frames.write_vector(k, v);
}

void ImageStackWriter::write_frames(std::int64_t first, std::int64_t count, const void* data) const {
  if (count <= 0) return;
  // Independent: a rank's frames are whole chunks in one range of the file, which it writes with
  // one call. Collective buffering would only pass the bytes through an aggregator rank first
  // (a third of the CPU time of a 2-rank ingest).
  visit_dtype(meta_.dtype, [&](auto tag) {
    using T = decltype(tag);
    data_.write(h5::Shape{first, 0, 0}, h5::Shape{count, meta_.height, meta_.width}, static_cast<const T*>(data), h5::Xfer::independent);
  });
}

ImageStackReader ImageStackReader::open(const std::string& spec) {
  const Target t = parse_target(spec, "/image_stack");
  ImageStackReader r;
  r.where_ = t.str();
  if (!h5::File::is_hdf5(t.file)) throw InputError(t.file + ": expected an HDF5 file holding an image_stack product, found another kind of file");
  r.file_ = FileRegistry::open(t.file, h5::Mode::read, nullptr);
  const h5::Group root = r.file_->root();
  if (root.kind(t.group) != h5::LinkKind::group) throw InputError(r.where_ + ": expected an image_stack product, found nothing there");
  const h5::Group g = root.open_group(t.group);
  const auto info = read_product_attrs(g);
  // simulate-adf's adf_images/1 holds its frames in image/ and its pixel in ground_truth/ (the
  // nominal probe step): read as a calibrated stack, so that image analyses run on simulations.
  const bool simulated = info && info->schema == "adf_images/1";
  if (!info || (!has_image_stack_layout(info->schema) && !simulated))
    throw InputError(r.where_ + ": tmdflow_product: expected image_stack/1 (or movie/1, adf_images/1), found " +
                     (info ? info->schema : std::string("no product")));
  const char* data_path = simulated ? "image/data" : "images/data";
  if (g.kind(data_path) != h5::LinkKind::dataset) throw InputError(r.where_ + ": expected " + data_path + ", found none");
  r.data_ = g.open_dataset(data_path);
  r.data_path_ = data_path;
  const h5::Shape s = r.data_.shape();
  if (s.size() != 3) throw InputError::at(t.file, r.data_.path(), "shape", "3 dimensions (frames, y, x)", str::shape_string(s));
  auto& m = r.meta_;
  m.frames = s[0];
  m.height = s[1];
  m.width = s[2];
  m.dtype = r.data_.dtype();
  if (g.attr_int("calibrated").value_or(0) == 1) {
    m.pixel_size_y_A = g.attr_double("pixel_size_y_A").value_or(0);
    m.pixel_size_x_A = g.attr_double("pixel_size_x_A").value_or(0);
  }
  if (simulated && g.kind("ground_truth") == h5::LinkKind::group)
    m.pixel_size_y_A = m.pixel_size_x_A = g.open_group("ground_truth").attr_double("pixel_A").value_or(0);
  m.frame_time_s = g.attr_double("frame_time_s").value_or(0);
  if (g.kind("frames") == h5::LinkKind::group) {
    const h5::Group f = g.open_group("frames");
    if (f.kind("source_file") == h5::LinkKind::dataset) m.source_file = f.open_dataset("source_file").read_strings();
    if (f.kind("title") == h5::LinkKind::dataset) m.title = f.open_dataset("title").read_strings();
    if (f.kind("frame_in_source") == h5::LinkKind::dataset) m.frame_in_source = f.open_dataset("frame_in_source").read_all<std::int64_t>();
  }
  return r;
}

void ImageStackReader::read_frames(std::int64_t first, std::int64_t count, void* out) const {
  visit_dtype(meta_.dtype, [&](auto tag) {
    using T = decltype(tag);
    read_frames_as(first, count, static_cast<T*>(out));
  });
}

void ImageStackReader::require_calibrated(const std::string& what) const {
  if (meta_.calibrated()) return;
  throw ConfigError(where_ + ": " + what + " needs the pixel size, and this image stack is uncalibrated (calibrated=0): ingest the images "
                    "again with --pixel-size-A VALUE");
}

}  // namespace tmdflow::io
