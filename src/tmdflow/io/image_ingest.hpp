#pragma once
// What stage ingest does with image files (data_schema/images.md): the input (a file, a folder or
// a quoted glob) expanded to image files, each file's chosen signals, and the files grouped into
// image stacks: one stack when every chosen signal has the same size, dtype and pixel size, else one
// stack per signal. Rank-local planning: every rank computes the same plan.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tmdflow/io/formats/image_source.hpp"
#include "tmdflow/io/image_stack.hpp"

namespace tmdflow::io {

/// True when `input` holds glob characters (* ? [) and so names files by a pattern.
bool is_glob(const std::string& input);
/// True when `input` is an image file, a folder holding image files, or a glob matching one.
bool is_image_input(const std::string& input);
/// The image files `input` names, sorted by name: the file itself, a folder's image files (other
/// files are passed over), or a glob's matches. InputError/IoError when it names none.
std::vector<std::string> expand_image_inputs(const std::string& input);

struct ImageIngestOptions {
  ImageFormat format = ImageFormat::automatic;
  std::string signal;        // name or index; empty: every signal of the first signal's size and dtype
  double pixel_size_A = 0;   // > 0: overrides the files' calibration (square pixels)
  double frame_time_s = 0;   // > 0: overrides the files' frame time
};

/// One frame of a stack: where it comes from.
struct FrameRef {
  std::size_t file = 0;    // index into ImageIngestPlan::files
  std::size_t signal = 0;  // signal of that file
  std::int64_t frame = 0;  // frame in that signal
};

struct PlannedStack {
  std::string name;  // child group name when there are several stacks (file stem, signal title)
  ImageStackMeta meta;
  std::vector<FrameRef> frames;
};

struct ImageIngestPlan {
  std::vector<std::string> files;
  std::vector<std::string> companions;  // other files the sources read (TIA .ser)
  std::vector<std::string> format_labels;
  std::vector<PlannedStack> stacks;
  std::vector<std::string> warnings;  // uncalibrated files, skipped signals (printed once by the stage)
  std::uint64_t total_bytes() const;
  std::int64_t total_frames() const;
};

/// Opens every file (headers only), picks signals and groups them (rank-local).
ImageIngestPlan plan_image_ingest(const std::vector<std::string>& files, const ImageIngestOptions& options);

/// Reads frames of a plan, keeping one source open at a time.
class PlanFrameReader {
 public:
  PlanFrameReader(const ImageIngestPlan& plan, ImageFormat format) : plan_(plan), format_(format) {}
  /// Reads `count` consecutive frames of `stack` starting at frame `first` into `out`.
  void read(const PlannedStack& stack, std::int64_t first, std::int64_t count, void* out);

 private:
  const ImageIngestPlan& plan_;
  ImageFormat format_;
  std::size_t open_index_ = SIZE_MAX;
  std::unique_ptr<ImageSource> open_;
};

}  // namespace tmdflow::io
