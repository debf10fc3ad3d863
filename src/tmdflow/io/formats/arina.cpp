#include "tmdflow/io/formats/arina.hpp"

#include <cmath>
#include <filesystem>
#include <map>

#include "tmdflow/core/log.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/io/formats/arina_files.hpp"
#include "tmdflow/io/formats/arina_filters.hpp"

namespace fs = std::filesystem;

namespace tmdflow::io {

double electron_voltage_kV(double wavelength_A) {
  // Kinetic energy of momentum p = h / lambda: sqrt((pc)^2 + (mc^2)^2) - mc^2.
  const double mc2 = units::electron_mass * units::speed_of_light * units::speed_of_light;
  const double pc = units::planck_h / (wavelength_A * 1e-10) * units::speed_of_light;
  return (std::sqrt(pc * pc + mc2 * mc2) - mc2) / units::elementary_charge * 1e-3;
}

namespace {

const std::string kDetector = "entry/instrument/detector";
const std::string kSpecific = kDetector + "/detectorSpecific";
const std::string kBeam = "entry/instrument/beam";

// An NXmx number: a one-element numeric dataset and its units attribute.
struct Quantity {
  double value = 0;
  std::string units;
};

std::optional<Quantity> quantity(const h5::Group& root, const std::string& path) {
  if (root.kind(path) != h5::LinkKind::dataset) return std::nullopt;
  const h5::Dataset d = root.open_dataset(path);
  if (d.is_string()) return std::nullopt;
  std::int64_t n = 1;
  for (auto e : d.shape()) n *= e;
  if (n != 1) return std::nullopt;
  return Quantity{d.read_all<double>().at(0), str::trim(d.attr_string("units").value_or(""))};
}

// The value in the unit that `scale` maps to 1 (nullopt for units it does not know).
std::optional<double> in_units(const std::optional<Quantity>& q, const std::map<std::string, double>& scale) {
  if (!q) return std::nullopt;
  const auto it = scale.find(q->units);
  if (it == scale.end()) return std::nullopt;
  return q->value * it->second;
}
const std::map<std::string, double> kMetres{{"m", 1.0}, {"mm", 1e-3}, {"um", 1e-6}, {"µm", 1e-6}, {"micron", 1e-6}};
const std::map<std::string, double> kElectronVolts{{"eV", 1.0}, {"keV", 1e3}, {"MeV", 1e6}};
const std::map<std::string, double> kAngstrom{{"angstrom", 1.0}, {"Angstrom", 1.0}, {"A", 1.0}, {"Å", 1.0}, {"nm", 10.0}, {"m", 1e10}};

// A count or flag: the value whatever its units attribute says.
std::optional<double> plain(const h5::Group& root, const std::string& path) {
  const auto q = quantity(root, path);
  return q ? std::optional<double>(q->value) : std::nullopt;
}

std::optional<double> positive(std::optional<double> v) { return v && *v > 0 && std::isfinite(*v) ? v : std::nullopt; }

// The most nearly square scan of n positions (for the hint in an error).
std::string squarest_scan(std::int64_t n) {
  std::int64_t rows = 1;
  for (std::int64_t r = 1; r * r <= n; ++r)
    if (n % r == 0) rows = r;
  return std::to_string(rows) + "," + std::to_string(n / rows);
}

// The frames of one data file: its dataset stays open for the reads.
struct DataPart {
  std::shared_ptr<h5::File> file;
  h5::Dataset dataset;
  std::int64_t first = 0;  // index of its first frame in the acquisition
  std::int64_t frames = 0;
};

class ArinaSource : public FrameSource {
 public:
  ArinaSource(const std::string& master, const FrameSourceOptions& o) : FrameSource(master) {
    const h5::File file = h5::File::open(master, h5::Mode::read, nullptr);
    const h5::Group root = file.root();
    if (root.kind(kDetector) != h5::LinkKind::group)
      throw InputError::at(master, "/" + kDetector, "group", "a DECTRIS NeXus NXmx master (NXdetector group)", "none");
    open_data(dectris_data_links(file));
    if (root.kind(kDetector + "/description") == h5::LinkKind::dataset && root.open_dataset(kDetector + "/description").is_string())
      description_ = str::trim(root.open_dataset(kDetector + "/description").read_string());
    scan_metadata_ = read_stem_scan_metadata(dectris_scan_metadata_path(master));
    check_frame_count(root, o);
    find_scan_shape(o);
    read_pixel_mask(root);
    if (o.flatfield) read_flatfield(root);
    read_acquisition(root);
  }

  std::string format_label() const override {
    return "DECTRIS NXmx" + (description_.empty() ? std::string() : " (" + description_ + ")");
  }

  // The master too: the input may have been a data file or BASE.h5.
  std::vector<std::string> companion_files() const override {
    std::vector<std::string> files{file_};
    for (const auto& p : parts_)
      if (p.file->path() != files.back()) files.push_back(p.file->path());
    if (scan_metadata_) files.push_back(scan_metadata_->file);
    return files;
  }

  void read_frames(std::int64_t first, std::int64_t count, void* out) const override {
    if (count <= 0) return;
    if (first < 0 || first + count > frames_)
      throw Error(file_ + ": frames [" + std::to_string(first) + ", " + std::to_string(first + count) +
                      ") requested, the acquisition holds " + std::to_string(frames_) + " (a tmdflow bug)",
                  ExitCode::failure);
    const std::size_t pixels = std::size_t(meta_.pattern_pixels());
    const std::size_t stored_size = dtype_size(stored_dtype_);
    // With the flatfield, the stored values are read first and converted to float32 after.
    std::vector<char> staging(gain_.empty() ? 0 : std::size_t(count) * pixels * stored_size);
    char* dst = gain_.empty() ? static_cast<char*>(out) : staging.data();
    for (const auto& part : parts_) {
      const std::int64_t lo = std::max(first, part.first), hi = std::min(first + count, part.first + part.frames);
      if (lo >= hi) continue;
      // HDF5 decodes the chunks (bitshuffle/LZ4) of this serial-driver file on this rank.
      part.dataset.read_raw({lo - part.first, 0, 0}, {hi - lo, meta_.shape[2], meta_.shape[3]},
                            h5::native_type(stored_dtype_), dst + std::size_t(lo - first) * pixels * stored_size,
                            h5::Xfer::independent);
    }
    visit_dtype(stored_dtype_, [&](auto tag) {
      using T = decltype(tag);
      if (!gain_.empty()) {
        const T* in = reinterpret_cast<const T*>(staging.data());
        float* o = static_cast<float*>(out);
        for (std::size_t i = 0; i < std::size_t(count) * pixels; ++i) o[i] = float(in[i]) * gain_[i % pixels];
        return;
      }
      T* frames = static_cast<T*>(out);
      for (std::int64_t f = 0; f < count; ++f)
        for (const std::size_t p : masked_) frames[std::size_t(f) * pixels + p] = T(0);
    });
  }

 private:
  void open_data(const std::vector<DectrisDataLink>& links) {
    std::map<std::string, std::shared_ptr<h5::File>> files;
    for (const auto& link : links) {
      auto& f = files[link.file];
      if (!f) f = std::make_shared<h5::File>(h5::File::open(link.file, h5::Mode::read, nullptr));
      if (f->root().kind(link.dataset) != h5::LinkKind::dataset)
        throw InputError::at(link.file, link.dataset, "dataset", "the frames that " + file_ + ":" + link.link + " links to",
                             "none");
      DataPart part{f, f->root().open_dataset(link.dataset), frames_, 0};
      const h5::Shape shape = part.dataset.shape();
      if (shape.size() != 3 || shape[1] <= 0 || shape[2] <= 0)
        throw InputError::at(link.file, link.dataset, "shape", "(frames, rows, columns)", str::shape_string(shape));
      const Dtype dtype = part.dataset.dtype();
      if (parts_.empty()) {
        meta_.shape = {1, 0, shape[1], shape[2]};
        stored_dtype_ = dtype;
      } else if (shape[1] != meta_.shape[2] || shape[2] != meta_.shape[3] || dtype != stored_dtype_) {
        throw InputError::at(link.file, link.dataset, "frames",
                             std::to_string(meta_.shape[2]) + "x" + std::to_string(meta_.shape[3]) + " " + dtype_name(stored_dtype_) +
                                 " (as in " + parts_.front().file->path() + ")",
                             std::to_string(shape[1]) + "x" + std::to_string(shape[2]) + " " + dtype_name(dtype));
      }
      require_filters(part.dataset);
      check_image_numbers(part, shape[0]);
      part.frames = shape[0];
      frames_ += shape[0];
      parts_.push_back(std::move(part));
    }
    if (frames_ == 0) throw InputError::at(file_, "/entry/data", "frames", "at least one", "0 in every data file");
    meta_.dtype = stored_dtype_;
  }

  // Each data file records the 1-based numbers of its first and last frame: a file missing or
  // repeated in the sequence would shift every frame after it.
  void check_image_numbers(const DataPart& part, std::int64_t frames) const {
    const auto low = part.dataset.attr_int("image_nr_low"), high = part.dataset.attr_int("image_nr_high");
    if (low && *low != part.first + 1)
      throw InputError::at(part.file->path(), part.dataset.path(), "attribute image_nr_low",
                           std::to_string(part.first + 1) + " (the frames of the data files before it + 1)", std::to_string(*low));
    if (high && *high != part.first + frames)
      throw InputError::at(part.file->path(), part.dataset.path(), "attribute image_nr_high",
                           std::to_string(part.first + frames) + " (image_nr_low + its " + std::to_string(frames) + " frames - 1)",
                           std::to_string(*high));
  }

  // The master announces nimages x ntrigger frames; fewer means an interrupted acquisition.
  void check_frame_count(const h5::Group& root, const FrameSourceOptions& o) const {
    const auto nimages = plain(root, kSpecific + "/nimages");
    const auto ntrigger = plain(root, kSpecific + "/ntrigger");
    if (!o.scan.empty() || !nimages || !ntrigger) return;
    const auto expected = std::int64_t(*nimages) * std::int64_t(*ntrigger);
    if (expected != frames_)
      throw InputError::at(file_, "/" + kSpecific, "frame count",
                           std::to_string(expected) + " (nimages " + std::to_string(std::int64_t(*nimages)) + " x ntrigger " +
                               std::to_string(std::int64_t(*ntrigger)) + ")",
                           std::to_string(frames_) + " in the data files; give --scan Rx,Ry to read the frames present");
  }

  void find_scan_shape(const FrameSourceOptions& o) {
    meta_.shape[1] = frames_;
    if (!o.scan.empty()) {
      fold_scan(frames_, o.scan, "frames in the data files");
      return;
    }
    if (!scan_metadata_) {
      const std::string metadata = dectris_scan_metadata_path(file_);
      throw ConfigError("scan: expected --scan Rx,Ry for " + file_ + " (" + std::to_string(frames_) +
                        " frames; the master records no scan shape" +
                        (metadata.empty() ? std::string() : " and there is no " + fs::path(metadata).filename().string() +
                                                                " with 'STEM Metadata' beside it") +
                        "), found none; e.g. --scan " + squarest_scan(frames_));
    }
    const StemScanMetadata& s = *scan_metadata_;
    if (s.prescan != 0)
      throw InputError::at(s.file, "/STEM Metadata", "attribute NumPixelsPrescan",
                           "0 (tmdflow does not know where prescan frames sit)",
                           std::to_string(s.prescan) + "; give --scan Rx,Ry to read the frames as they are");
    if (s.rows * s.columns != frames_)
      throw InputError::at(s.file, "/STEM Metadata", "scan NumPixelsY x NumPixelsX",
                           std::to_string(frames_) + " positions (the frames of " + fs::path(file_).filename().string() + ")",
                           std::to_string(s.rows) + " x " + std::to_string(s.columns) + "; give --scan Rx,Ry to read them anyway");
    meta_.shape[0] = s.rows;
    meta_.shape[1] = s.columns;
    log::info("ingest: scan ", s.rows, "x", s.columns, " from ", s.file, " (STEM Metadata NumPixelsY x NumPixelsX)");
  }

  // NXmx puts pixel_mask in the detector group; DECTRIS firmware in detectorSpecific.
  std::optional<std::string> find_detector_array(const h5::Group& root, const std::string& name) const {
    for (const auto& group : {kDetector, kSpecific})
      if (root.kind(group + "/" + name) == h5::LinkKind::dataset) return group + "/" + name;
    return std::nullopt;
  }

  h5::Dataset detector_array(const h5::Group& root, const std::string& path) const {
    h5::Dataset d = root.open_dataset(path);
    const h5::Shape frame{meta_.shape[2], meta_.shape[3]};
    if (d.shape() != frame)
      throw InputError::at(file_, "/" + path, "shape", str::shape_string(frame) + " (the frames)", str::shape_string(d.shape()));
    return d;
  }

  void read_pixel_mask(const h5::Group& root) {
    const auto path = find_detector_array(root, "pixel_mask");
    if (!path) return;
    const auto mask = detector_array(root, *path).read_all<std::uint32_t>();
    for (std::size_t p = 0; p < mask.size(); ++p)
      if (mask[p] != 0) masked_.push_back(p);
    meta_.acquisition["masked_pixels"] = double(masked_.size());
  }

  void read_flatfield(const h5::Group& root) {
    const auto applied = plain(root, kDetector + "/flatfield_correction_applied");
    if (applied && *applied != 0)
      throw ConfigError("flatfield: expected a flatfield the detector has not applied, found " + file_ + ":/" + kDetector +
                        "/flatfield_correction_applied = 1 (applying it twice would be wrong); leave --flatfield out");
    const auto path = find_detector_array(root, "flatfield");
    if (!path) throw InputError::at(file_, "/" + kSpecific + "/flatfield", "dataset", "the flatfield (--flatfield)", "none");
    gain_ = detector_array(root, *path).read_all<float>();
    for (const std::size_t p : masked_) gain_[p] = 0.0f;
    meta_.dtype = Dtype::f32;
    meta_.acquisition["flatfield_applied"] = 1.0;
  }

  void read_acquisition(const h5::Group& root) {
    auto& acq = meta_.acquisition;
    auto put = [&](const char* key, std::optional<double> v) {
      if (v) acq[key] = *v;
    };
    // The beam: NXmx's incident wavelength or energy, else the energy DECTRIS firmware records as
    // photon_energy (for electrons, the beam energy), else the scan system's high tension.
    std::optional<double> kV;
    if (const auto w = positive(in_units(quantity(root, kBeam + "/incident_wavelength"), kAngstrom))) kV = electron_voltage_kV(*w);
    for (const auto& path : {kBeam + "/incident_energy", kSpecific + "/photon_energy"})
      if (const auto eV = positive(in_units(quantity(root, path), kElectronVolts)); eV && !kV) kV = *eV * 1e-3;
    if (!kV && scan_metadata_ && scan_metadata_->high_tension_V) kV = positive(*scan_metadata_->high_tension_V * 1e-3);
    put("voltage_kV", kV);
    put("exposure_s", positive(in_units(quantity(root, kDetector + "/count_time"), {{"s", 1.0}})));
    put("frame_time_s", positive(in_units(quantity(root, kDetector + "/frame_time"), {{"s", 1.0}})));
    put("counter_depth_bits", positive(plain(root, kDetector + "/bit_depth_image")));
    put("threshold_energy_eV", positive(in_units(quantity(root, kDetector + "/threshold_energy"), kElectronVolts)));
    put("saturation_value", positive(plain(root, kDetector + "/saturation_value")));
    put("detector_distance_m", positive(in_units(quantity(root, kDetector + "/detector_distance"), kMetres)));
    const auto px = positive(in_units(quantity(root, kDetector + "/x_pixel_size"), kMetres));
    const auto py = positive(in_units(quantity(root, kDetector + "/y_pixel_size"), kMetres));
    if (px && py && *px == *py) put("detector_pixel_size_m", px);
    if (scan_metadata_) put("camera_length_m", positive(scan_metadata_->camera_length_m));
    calibrate(kV, px && py && *px == *py ? px : std::nullopt);
  }

  // R from the scan system's pixel size; Q from the camera length it reports (the effective one,
  // after the projector lenses: the master's detector_distance is not it in a microscope).
  void calibrate(std::optional<double> kV, std::optional<double> detector_pixel_m) {
    if (!scan_metadata_) return;
    auto& cal = meta_.calibration;
    if (const auto r = positive(scan_metadata_->pixel_size_nm)) {
      cal.R_pixel_size = *r;
      cal.R_pixel_units = "nm";
      log::info("ingest: R pixel ", str::number(*r), " nm from ", scan_metadata_->file, " (Pixel Size",
                scan_metadata_->pixel_size_calibrated ? "" : ", marked not calibrated: nominal", "); --r-pixel-nm overrides");
    }
    const auto length = positive(scan_metadata_->camera_length_m);
    if (!kV || !length || !detector_pixel_m) return;
    // Small angles: a pixel spans p / L rad, i.e. p / (L lambda) 1/Angstrom.
    cal.Q_pixel_size = *detector_pixel_m / (*length * units::electron_wavelength_A(*kV));
    cal.Q_pixel_units = "A^-1";
    log::info("ingest: Q pixel ", str::number(cal.Q_pixel_size), " 1/A from the nominal camera length ", str::number(*length),
              " m, ", str::number(*detector_pixel_m * 1e6), " um pixels and ", str::number(*kV), " kV; --q-pixel-invA overrides");
  }

  std::vector<DataPart> parts_;
  std::int64_t frames_ = 0;
  Dtype stored_dtype_ = Dtype::u32;
  std::string description_;
  std::optional<StemScanMetadata> scan_metadata_;
  std::vector<std::size_t> masked_;  // pixel indices (row-major in the frame)
  std::vector<float> gain_;          // flatfield with masked pixels 0; empty without --flatfield
};

}  // namespace

std::unique_ptr<FrameSource> open_arina(const std::string& path, const FrameSourceOptions& options) {
  add_filter_plugin_dir();
  const DectrisRole role = dectris_role(path);
  const std::string master = dectris_master_of(path, role == DectrisRole::none ? DectrisRole::master : role);
  if (master != path) log::info("ingest: ", path, " belongs to the DECTRIS acquisition of ", master, ": reading that");
  return std::make_unique<ArinaSource>(master, options);
}

}  // namespace tmdflow::io
