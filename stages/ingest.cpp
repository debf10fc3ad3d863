// Stage ingest: a foreign 4D-STEM file (.mib, raw binary, .npy, EMD/HDF5, DECTRIS) -> a datacube/1
// product, sharded by scan rows: each rank reads only its rows and writes them collectively.
// Image files (one, a folder or a glob: TIFF, PNG, DM, Velox, MRC, TIA, EMD, .npy) -> an
// image_stack/1 product (or image_stacks/1 holding one per file when they differ), sharded by frame.
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/datacube.hpp"
#include "tmdflow/io/formats/frame_source.hpp"
#include "tmdflow/io/image_ingest.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/interrupt.hpp"
#include "tmdflow/par/progress.hpp"

namespace fs = std::filesystem;

namespace tmdflow::stages {
namespace {

class Ingest : public Stage {
 public:
  std::string name() const override { return "ingest"; }
  std::string summary() const override {
    return "read a 4D-STEM file (.mib, .raw/.bin, .npy, EMD/HDF5, DECTRIS Arina) into a datacube product, or images into an image stack";
  }
  std::string description() const override {
    return "Reads a 4D-STEM acquisition and writes it as a datacube (data[Rx, Ry, Qx, Qy]) keeping its element type.\n"
           "Formats (by extension, or --format): Merlin .mib (single or quad, U08/U16/U32; the scan from --scan, else\n"
           "from the .hdr beside it, else one row), raw binary .raw/.bin (--shape, --dtype, --endian, --header-bytes,\n"
           "--gap-bytes), NumPy .npy (C order; 4-D, or 3-D frames with --scan), HDF5: EMD 1.0 / py4DSTEM, Prismatic\n"
           "EMD 0.5 and any 4-D dataset (FILE.h5:/path or --dataset), DECTRIS Arina NXmx (the _master.h5 with its data\n"
           "files; bitshuffle/LZ4 through Debian's HDF5 plugins; the scan from --scan or the BASE.h5 beside it; pixel_mask\n"
           "pixels set to 0; --flatfield true). Calibration comes from the file when it has one;\n"
           "the calibration options override it. See data_schema/ingest.md.\n\n"
           "Images: an image file, a folder of them or a quoted glob ('dir/*.tif') of TIFF, PNG, DM3/DM4, Velox EMD, MRC,\n"
           "TIA .emi, EMD 1.0 (2-D/3-D arrays) or 2-D/3-D .npy files becomes an image_stack product (data[N, H, W], native\n"
           "type, pixel size in Angstrom): one stack when every image has the same size, type and pixel size, else an\n"
           "image_stacks product holding one stack per file (named by the file's stem). --pixel-size-A supplies or overrides\n"
           "the calibration; an image without one is marked uncalibrated (calibrated=0). See data_schema/images.md.";
  }
  // Decided by validate(): 4D-STEM input or images (one stack, or one per file).
  std::string product_schema() const override { return schema_; }
  std::string default_group() const override { return "/datacube_root"; }
  // Called after the options are parsed: the 4D-STEM options (--scan folding a 3-D .npy) choose the datacube.
  std::string default_group_for(const std::string& input) const override {
    const bool datacube_options = !scan_.empty() || !shape_.empty() || !dataset_.empty();
    return !datacube_options && !input.empty() && input.find(":/") == std::string::npos && io::is_image_input(input) ? "/image_stack"
                                                                                                                    : default_group();
  }

  void declare(Options& o) override {
    o.add<std::string>("format", &format_, "auto", "input format: auto (by extension and content), mib, raw, npy, hdf5, arina")
        .add_optional<std::string>("scan", &scan_, "scan shape Rx,Ry [positions] (folds the frames in scan order)")
        .add_optional<std::string>("shape", &shape_, "raw: datacube shape Rx,Ry,Qx,Qy")
        .add_optional<std::string>("dtype", &dtype_, "raw: element type (uint8, uint16, uint32, int16, int32, float32, float64)")
        .add<std::string>("endian", &endian_, "little", "raw: byte order of the elements (little, big)")
        .add<std::int64_t>("header-bytes", &header_bytes_, 0, "raw: bytes to skip at the start of the file [bytes]")
        .add<std::int64_t>("gap-bytes", &gap_bytes_, 0, "raw: bytes to skip before every frame [bytes]")
        .add_optional<std::string>("dataset", &dataset_, "HDF5: path of the dataset or array group (default: the only datacube)")
        .add<bool>("flatfield", &flatfield_, false, "DECTRIS: multiply the frames by the master's flatfield (float32 output)")
        .add_optional<double>("r-pixel-nm", &r_pixel_nm_, "scan step [nm] (overrides the file's)")
        .add_optional<double>("q-pixel-invA", &q_pixel_invA_, "detector pixel size [1/Angstrom] (overrides the file's)")
        .add_optional<double>("voltage-kV", &voltage_kV_, "accelerating voltage [kV]")
        .add_optional<double>("convergence-mrad", &convergence_mrad_, "probe convergence semi-angle [mrad]")
        .add<std::int64_t>("block-patterns", &block_patterns_, 0, "patterns per read/write block (0: about 32 MiB)")
        .add_optional<double>("pixel-size-A", &pixel_size_A_, "images: pixel size [Angstrom] (supplies or overrides the files')")
        .add_optional<std::string>("signal", &signal_, "images: the signal of multi-signal files, by title or index (default: every signal of the first one's size and type)")
        .add_optional<double>("frame-time-s", &frame_time_s_, "images: time between frames of a stack [s] (overrides the files')");
  }

  // The image path: options, files, plan (every rank; opens headers only).
  void validate_images(const StageContext& ctx) {
    for (const char* only4d : {"scan", "shape", "dtype", "dataset", "r-pixel-nm", "q-pixel-invA", "header-bytes", "gap-bytes", "flatfield"})
      if (ctx.given(only4d))
        throw ConfigError(std::string(only4d) + ": applies to 4D-STEM input, and " + ctx.input + " is images (for their calibration: --pixel-size-A)");
    if (ctx.given("pixel-size-A")) require_positive("pixel-size-A", pixel_size_A_);
    if (ctx.given("frame-time-s")) require_positive("frame-time-s", frame_time_s_);
    io::ImageIngestOptions o;
    o.format = format_ == "auto" ? io::ImageFormat::automatic : io::image_format_from_name(format_, "format");
    if (ctx.given("signal")) o.signal = signal_;
    if (ctx.given("pixel-size-A")) o.pixel_size_A = pixel_size_A_;
    if (ctx.given("frame-time-s")) o.frame_time_s = frame_time_s_;
    image_format_ = o.format;
    plan_ = io::plan_image_ingest(io::expand_image_inputs(ctx.input), o);
    for (auto& st : plan_.stacks) {
      if (ctx.given("voltage-kV")) st.meta.acquisition["voltage_kV"] = voltage_kV_;
      if (ctx.given("convergence-mrad")) st.meta.acquisition["convergence_mrad"] = convergence_mrad_;
    }
    std::error_code ec;
    for (const auto& f : extra_inputs())
      if (fs::exists(ctx.output.file) && fs::equivalent(f, ctx.output.file, ec))
        throw ConfigError("output: expected another file than the input's, found " + ctx.output.file + ", which it reads");
    schema_ = plan_.stacks.size() == 1 ? "image_stack/1" : "image_stacks/1";
    images_ = true;
  }

  void validate(const StageContext& ctx) override {
    static const std::set<std::string> image_formats = {"tiff", "tif", "png", "dm", "velox", "mrc", "tia", "emd"};
    if (image_formats.count(format_) || (format_ == "auto" && default_group_for(ctx.input) == "/image_stack"))
      return validate_images(ctx);
    for (const char* image_only : {"pixel-size-A", "signal", "frame-time-s"})
      if (ctx.given(image_only)) throw ConfigError(std::string(image_only) + ": applies to image input, and " + ctx.input + " is 4D-STEM data");
    schema_ = "datacube/1";
    io::FrameSourceOptions o;
    o.format = io::input_format_from_name(format_, "format");
    if (ctx.given("scan")) o.scan = str::to_int_list(scan_, "scan");
    if (ctx.given("shape")) o.shape = str::to_int_list(shape_, "shape");
    if (ctx.given("dtype")) o.dtype = io::dtype_from_name(dtype_, "dtype");
    o.byte_order = io::byte_order_from_name(endian_, "endian");
    o.header_bytes = header_bytes_;
    o.gap_bytes = gap_bytes_;
    o.flatfield = flatfield_;
    if (block_patterns_ < 0) throw ConfigError("block-patterns: expected 0 or more, found " + std::to_string(block_patterns_));
    for (const auto& [option, value] : {std::pair<const char*, double>{"r-pixel-nm", r_pixel_nm_},
                                        {"q-pixel-invA", q_pixel_invA_},
                                        {"voltage-kV", voltage_kV_},
                                        {"convergence-mrad", convergence_mrad_}})
      if (ctx.given(option)) require_positive(option, value);

    // The input may name a dataset as FILE.h5:/path (HDF5) or with --dataset, not both.
    const io::Target in = io::parse_target(ctx.input, "/");
    if (ctx.input.find(":/") != std::string::npos) {
      if (ctx.given("dataset")) throw ConfigError("dataset: the input already names one (" + ctx.input + "); give one or the other");
      o.dataset = in.group;
    } else if (ctx.given("dataset")) {
      o.dataset = dataset_;
    }
    std::error_code ec;
    if (fs::exists(ctx.output.file) && fs::equivalent(in.file, ctx.output.file, ec))
      throw ConfigError("output: expected another file than the input, found " + ctx.output.file + " for both");

    // Opening checks what can be checked before any work: sizes, first/last headers, shapes.
    source_ = io::open_frame_source(in.file, o);
    meta_ = source_->meta();
    // An input may be several files (a .hdr; a DECTRIS master and its data files): the output must be none of them.
    std::vector<std::string> read_files = source_->companion_files();
    read_files.push_back(source_->file());
    for (const auto& f : read_files)
      if (fs::exists(ctx.output.file) && fs::equivalent(f, ctx.output.file, ec))
        throw ConfigError("output: expected another file than the input's, found " + ctx.output.file + ", which it reads");
    auto& cal = meta_.calibration;
    if (ctx.given("r-pixel-nm")) {
      cal.R_pixel_size = r_pixel_nm_;
      cal.R_pixel_units = "nm";
    }
    if (ctx.given("q-pixel-invA")) {
      cal.Q_pixel_size = q_pixel_invA_;
      cal.Q_pixel_units = "A^-1";
    }
    if (ctx.given("voltage-kV")) meta_.acquisition["voltage_kV"] = voltage_kV_;
    if (ctx.given("convergence-mrad")) meta_.acquisition["convergence_mrad"] = convergence_mrad_;
  }

  std::vector<std::string> extra_inputs() const override {
    if (images_) {
      // Every file read (a folder's or a glob's), so that the configuration hash follows their content.
      std::vector<std::string> all = plan_.files;
      all.insert(all.end(), plan_.companions.begin(), plan_.companions.end());
      return all;
    }
    return source_ ? source_->companion_files() : std::vector<std::string>{};
  }

  bool validate_reads_input() const override { return true; }

  std::uint64_t planned_bytes(const StageContext&) const override {
    if (images_) return plan_.total_bytes();
    return std::uint64_t(meta_.positions()) * std::uint64_t(meta_.pattern_pixels()) * io::dtype_size(meta_.dtype);
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    if (images_) return run_images(ctx, out);
    if (ctx.comm.is_root())
      log::info("ingest: ", source_->format_label(), " ", source_->file(), " -> ", str::shape_string(meta_.shape), " ",
                io::dtype_name(meta_.dtype));
    io::DatacubeWriter writer(out, meta_);
    const par::Range rows = par::block_partition(meta_.scan_rows(), ctx.comm.size(), ctx.comm.rank());
    const std::uint64_t frame_bytes = source_->frame_bytes();
    const std::int64_t max_frames =
        block_patterns_ > 0 ? block_patterns_ : std::max<std::int64_t>(1, std::int64_t((32u << 20) / std::max<std::uint64_t>(frame_bytes, 1)));
    const auto blocks = io::scan_blocks(rows, meta_.scan_cols(), max_frames);
    const std::int64_t steps = ctx.comm.allreduce(std::int64_t(blocks.size()), par::Op::max);
    std::int64_t largest = 0;
    for (const auto& b : blocks) largest = std::max(largest, b.frames());
    // 8-byte elements keep every dtype aligned; at most one block is held in memory. Allocated
    // collectively: a rank out of memory must not leave the others waiting in the first write.
    std::vector<std::uint64_t> buffer;
    par::collectively(ctx.comm, [&] { buffer.resize(std::size_t((std::uint64_t(largest) * frame_bytes + 7) / 8) + 1); });
    par::Progress progress(ctx.comm, "ingest", std::uint64_t(meta_.positions()), "patterns");
    for (std::int64_t k = 0; k < steps; ++k) {
      const io::ScanBlock b = k < std::int64_t(blocks.size()) ? blocks[std::size_t(k)] : io::ScanBlock{};
      // A bad frame on one rank must stop every rank before the next collective write.
      // A block's frames are consecutive in scan order (whole rows, or part of one row).
      par::collectively(ctx.comm, [&] { source_->read_frames(b.row0 * meta_.scan_cols() + b.col0, b.frames(), buffer.data()); });
      io::visit_dtype(meta_.dtype, [&](auto tag) {
        using T = decltype(tag);
        writer.dataset().write(io::h5::Shape{b.row0, b.col0, 0, 0}, io::h5::Shape{b.nrows, b.ncols, meta_.shape[2], meta_.shape[3]},
                               reinterpret_cast<const T*>(buffer.data()));
      });
      progress.advance(std::uint64_t(b.frames()));
    }
    progress.finish();
  }

  // "TIFF" when every file has one format, else "mixed formats: 12 DigitalMicrograph DM3, 2 TIFF".
  std::string formats_text() const {
    std::map<std::string, int> count;
    for (const auto& f : plan_.format_labels) ++count[f];
    if (count.size() == 1) return count.begin()->first;
    std::vector<std::string> parts;
    for (const auto& [label, n] : count) parts.push_back(std::to_string(n) + " " + label);
    return "mixed formats: " + str::join(parts, ", ");
  }

  void run_images(const StageContext& ctx, io::ProductWriter& out) {
    if (ctx.comm.is_root()) {
      for (const auto& w : plan_.warnings) log::warn(w);
      log::info("ingest: ", plan_.files.size(), " image file", plan_.files.size() == 1 ? "" : "s", " (", formats_text(),
                plan_.files.size() == 1 ? " " + plan_.files.front() : std::string(), ") -> ", plan_.stacks.size(), " image stack",
                plan_.stacks.size() == 1 ? "" : "s", ", ", plan_.total_frames(), " frames");
    }
    par::Progress progress(ctx.comm, "ingest", std::uint64_t(plan_.total_frames()), "frames");
    io::PlanFrameReader reader(plan_, image_format_);
    if (plan_.stacks.size() > 1) out.group().set_attr("stacks", std::int64_t(plan_.stacks.size()));
    for (const auto& st : plan_.stacks) {
      // One stack: the product group itself; several: one image_stack/1 product per file inside it.
      io::h5::Group child;
      if (plan_.stacks.size() > 1) {
        child = out.group().create_group(st.name);
        io::write_product_attrs(child, io::ProductInfo{"image_stack/1", name(), ctx.config_hash, true, ctx.command});
      }
      io::ImageStackWriter writer(plan_.stacks.size() > 1 ? child : out.group(), st.meta);
      const par::Range mine = par::block_partition(st.meta.frames, ctx.comm.size(), ctx.comm.rank());
      const std::uint64_t fb = std::max<std::uint64_t>(st.meta.frame_bytes(), 1);
      const std::int64_t per_step = std::max<std::int64_t>(1, std::int64_t((32u << 20) / fb));
      const std::int64_t my_steps = (mine.size() + per_step - 1) / per_step;
      const std::int64_t steps = ctx.comm.allreduce(my_steps, par::Op::max);
      // Not zero-filled: every byte is read into before it is written out.
      std::unique_ptr<std::uint64_t[]> buffer;
      par::collectively(ctx.comm, [&] {
        buffer.reset(new std::uint64_t[std::size_t((std::uint64_t(std::min(per_step, std::max<std::int64_t>(mine.size(), 1))) * fb + 7) / 8)]);
      });
      // Each rank reads its frames and writes them (independent I/O), agreeing with the others only
      // every kStepsPerAgreement steps (512 MiB): a rank waiting for another on shared cores spins
      // and takes the CPU time the other needs. A bad file, a failed write or an interruption on one
      // rank stops every rank at the next agreement.
      constexpr std::int64_t kStepsPerAgreement = 16;
      for (std::int64_t k0 = 0; k0 < steps; k0 += kStepsPerAgreement) {
        par::collectively(ctx.comm, [&] {
          for (std::int64_t k = k0; k < std::min(steps, k0 + kStepsPerAgreement); ++k) {
            const std::int64_t first = mine.begin + k * per_step;
            const std::int64_t count = std::min(per_step, mine.end - first);
            if (count <= 0) return;
            par::throw_if_interrupted();
            reader.read(st, first, count, buffer.get());
            writer.write_frames(first, count, buffer.get());
            progress.advance(std::uint64_t(count));
          }
        });
      }
    }
    progress.finish();
  }

 private:
  std::string format_, scan_, shape_, dtype_, endian_, dataset_;
  std::int64_t header_bytes_ = 0, gap_bytes_ = 0, block_patterns_ = 0;
  bool flatfield_ = false;
  double r_pixel_nm_ = 0, q_pixel_invA_ = 0, voltage_kV_ = 0, convergence_mrad_ = 0;
  std::unique_ptr<io::FrameSource> source_;
  io::DatacubeMeta meta_;
  // Images
  double pixel_size_A_ = 0, frame_time_s_ = 0;
  std::string signal_;
  std::string schema_ = "datacube/1 (4D-STEM input) or image_stack/1 (images)";
  bool images_ = false;
  io::ImageFormat image_format_ = io::ImageFormat::automatic;
  io::ImageIngestPlan plan_;
};

}  // namespace

std::unique_ptr<Stage> make_ingest_stage() { return std::make_unique<Ingest>(); }

}  // namespace tmdflow::stages
