#include "tmdflow/io/formats/emd_image.hpp"

#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/datacube.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/io/formats/image_units.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/io/product.hpp"

namespace tmdflow::io {

namespace {

bool slices_last(const std::string& python_class) { return python_class == "RealSlice" || python_class == "DiffractionSlice"; }

class EmdImage : public ImageSource {
 public:
  explicit EmdImage(const std::string& path) : ImageSource(path) {
    if (!h5::File::is_hdf5(path)) throw InputError(path + ": expected an HDF5 file (EMD 1.0), found another kind of file");
    h5_ = FileRegistry::open(path, h5::Mode::read, nullptr);
    const h5::Group root = h5_->root();
    for (const auto& a : emd::list_arrays(*h5_)) {
      if (a.shape.size() != 2 && a.shape.size() != 3) continue;
      checked_datacube_bytes(a.shape, a.dtype, path, a.group_path + "/data");
      const h5::Group g = root.open_group(a.group_path);
      const int rank = int(a.shape.size());
      const bool last = rank == 3 && slices_last(a.python_class);
      ImageSignal s;
      s.title = a.group_path.substr(a.group_path.find_last_of('/') + 1);
      s.dtype = a.dtype;
      s.frames = rank == 3 ? (last ? a.shape[2] : a.shape[0]) : 1;
      s.height = last || rank == 2 ? a.shape[0] : a.shape[1];
      s.width = last || rank == 2 ? a.shape[1] : a.shape[2];
      if (s.height <= 0 || s.width <= 0 || s.frames <= 0)
        throw InputError::at(path, a.group_path + "/data", "shape", "positive extents", str::shape_string(a.shape));
      const auto dims = emd::read_dims(g, rank);
      std::vector<int> order;  // frame, y, x as indices into dims
      if (rank == 3) order = last ? std::vector<int>{2, 0, 1} : std::vector<int>{0, 1, 2};
      else order = {0, 1};
      for (int k : order) s.axes.push_back({dims[std::size_t(k)].name, dims[std::size_t(k)].step, dims[std::size_t(k)].origin, dims[std::size_t(k)].units});
      const ImageAxis& y = s.axes[s.axes.size() - 2];
      const ImageAxis& x = s.axes.back();
      const double ky = length_unit_in_A(y.units), kx = length_unit_in_A(x.units);
      if (ky > 0 && kx > 0 && y.scale > 0 && x.scale > 0 && std::isfinite(y.scale) && std::isfinite(x.scale)) {
        s.pixel_size_y_A = y.scale * ky;
        s.pixel_size_x_A = x.scale * kx;
      }
      if (rank == 3) {
        const ImageAxis& f = s.axes.front();
        const double kt = time_unit_in_s(f.units);
        if (kt > 0 && f.scale > 0 && std::isfinite(f.scale)) s.frame_time_s = f.scale * kt;
      }
      read_product_calibration(root, a.group_path, s);
      signals_.push_back(std::move(s));
      arrays_.push_back({a.group_path + "/data", last});
    }
    if (signals_.empty()) throw InputError(path + ": expected an EMD array of 2 or 3 dimensions (an image or a stack), found none");
  }

  std::string format_label() const override { return "EMD 1.0"; }

  void read_frames(std::size_t signal, std::int64_t first, std::int64_t count, void* out) const override {
    if (signal >= signals_.size()) throw InputError(file_ + ": signal " + std::to_string(signal) + ": expected one of " + std::to_string(signals_.size()));
    const ImageSignal& s = signals_[signal];
    const auto& a = arrays_[signal];
    if (first < 0 || count < 0 || first + count > s.frames)
      throw InputError::at(file_, a.data, "frames", "frames within [0, " + std::to_string(s.frames) + ")",
                           "[" + std::to_string(first) + ", " + std::to_string(first + count) + ")");
    if (count == 0) return;
    const h5::Dataset d = h5_->root().open_dataset(a.data);
    const hid_t type = h5::native_type(s.dtype);
    if (d.rank() == 2) {
      d.read_raw({0, 0}, {s.height, s.width}, type, out, h5::Xfer::independent);
    } else if (!a.slices_last) {
      d.read_raw({first, 0, 0}, {count, s.height, s.width}, type, out, h5::Xfer::independent);
    } else {
      // Slices last: one frame is a strided hyperslab [:, :, k], read into its own contiguous frame.
      for (std::int64_t k = 0; k < count; ++k)
        d.read_raw({0, 0, first + k}, {s.height, s.width, 1}, type, static_cast<char*>(out) + std::uint64_t(k) * s.frame_bytes(),
                   h5::Xfer::independent);
    }
  }

 private:
  // A tmdflow image_stack product states its calibration in Angstrom on the product group.
  static void read_product_calibration(const h5::Group& root, const std::string& array_group, ImageSignal& s) {
    const std::string parent = array_group.substr(0, array_group.rfind('/'));
    if (parent.empty()) return;
    const h5::Group p = root.open_group(parent);
    const auto info = read_product_attrs(p);
    if (!info || !has_image_stack_layout(info->schema)) return;
    s.title = p.path().substr(p.path().find_last_of('/') + 1);
    const double py = p.attr_double("pixel_size_y_A").value_or(0), px = p.attr_double("pixel_size_x_A").value_or(0);
    if (p.attr_int("calibrated").value_or(0) == 1 && py > 0 && px > 0) {
      s.pixel_size_y_A = py;
      s.pixel_size_x_A = px;
    }
    const double ft = p.attr_double("frame_time_s").value_or(0);
    if (ft > 0 && std::isfinite(ft)) s.frame_time_s = ft;
  }

  struct ArrayRef {
    std::string data;
    bool slices_last = false;
  };
  std::shared_ptr<h5::File> h5_;
  std::vector<ArrayRef> arrays_;
};

}  // namespace

bool emd_file_holds_images(const std::string& path) {
  if (!h5::File::is_hdf5(path)) return false;
  auto file = FileRegistry::open(path, h5::Mode::read, nullptr);
  bool images = false;
  for (const auto& a : emd::list_arrays(*file)) {
    if (a.shape.size() == 4) return false;
    images = images || a.shape.size() == 2 || a.shape.size() == 3;
  }
  return images;
}

std::unique_ptr<ImageSource> open_emd_image(const std::string& path) { return std::make_unique<EmdImage>(path); }

}  // namespace tmdflow::io
