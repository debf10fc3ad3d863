#include "tmdflow/io/formats/merlin.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/formats/binary_file.hpp"

namespace fs = std::filesystem;

namespace tmdflow::io {

namespace {

// Largest header accepted: Merlin writes 256 + 128 bytes per chip; anything far beyond is garbage.
constexpr std::int64_t kMaxHeaderBytes = 65536;

std::string frame_what(std::int64_t frame, const std::string& field) {
  return "frame " + std::to_string(frame) + " (counting from 0) header " + field;
}

std::optional<std::int64_t> parse_decimal(std::string_view s) {
  std::string t = str::trim(std::string(s));
  if (t.empty() || t.size() > 18 || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::stoll(t);
}

}  // namespace

Dtype MibHeader::dtype() const {
  if (type == "U08") return Dtype::u8;
  if (type == "U16") return Dtype::u16;
  if (type == "U32") return Dtype::u32;
  return Dtype::u64;
}

MibHeader parse_mib_header(std::string_view bytes, const std::string& file, std::int64_t frame) {
  const std::size_t nul = bytes.find('\0');
  const std::string_view text = bytes.substr(0, nul);
  std::vector<std::string_view> fields;
  for (std::size_t b = 0; b <= text.size();) {
    std::size_t e = text.find(',', b);
    if (e == std::string_view::npos) e = text.size();
    fields.push_back(text.substr(b, e - b));
    b = e + 1;
  }
  if (fields.empty() || fields[0] != "MQ1")
    throw InputError::at(file, "", frame_what(frame, "magic"), "'MQ1' (a Merlin .mib frame)",
                         str::quoted(fields.empty() ? bytes.substr(0, 3) : fields[0]));
  if (fields.size() < 8)
    throw InputError::at(file, "", frame_what(frame, "fields"),
                         "at least 8 comma-separated fields (MQ1,seq,header bytes,chips,width,height,type,layout)",
                         std::to_string(fields.size()));
  auto number = [&](std::size_t i, const std::string& name, std::int64_t lo, std::int64_t hi) {
    auto v = parse_decimal(fields[i]);
    if (!v || *v < lo || *v > hi)
      throw InputError::at(file, "", frame_what(frame, name),
                           "a whole number from " + std::to_string(lo) + " to " + std::to_string(hi),
                           str::quoted(fields[i]));
    return *v;
  };
  MibHeader h;
  h.sequence = number(1, "sequence number", 0, 999999999);
  h.header_bytes = number(2, "size (bytes)", 64, kMaxHeaderBytes);
  h.chips = number(3, "chip count", 1, 64);
  h.width = number(4, "width (pixels)", 1, 65536);
  h.height = number(5, "height (pixels)", 1, 65536);
  h.type = std::string(fields[6]);
  if (h.type != "U08" && h.type != "U16" && h.type != "U32" && h.type != "U64" && h.type != "R64")
    throw InputError::at(file, "", frame_what(frame, "pixel type"), "U08, U16, U32, U64 or R64", str::quoted(fields[6]));
  h.layout = str::trim(std::string(fields[7]));
  if (fields.size() > 10) {
    const std::string e(fields[10]);
    char* end = nullptr;
    const double v = std::strtod(e.c_str(), &end);
    if (!e.empty() && end == e.c_str() + e.size()) h.exposure_s = v;
  }
  // Extended headers carry "MQ1A,<timestamp>,<exposure>ns,<counter depth>" after the DACs.
  for (std::size_t i = 8; i + 3 < fields.size(); ++i)
    if (fields[i] == "MQ1A") {
      h.counter_depth = parse_decimal(fields[i + 3]);
      break;
    }
  return h;
}

MerlinHdr parse_merlin_hdr(const std::string& text, const std::string& file) {
  MerlinHdr hdr;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    line.erase(std::remove(line.begin(), line.end(), '\0'), line.end());
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = str::trim(line.substr(0, colon));
    const std::string value = str::trim(line.substr(colon + 1));
    std::optional<std::int64_t>* target = nullptr;
    if (key == "Frames in Acquisition (Number)") target = &hdr.frames_in_acquisition;
    else if (key == "Frames per Trigger (Number)") target = &hdr.frames_per_trigger;
    else if (key == "Counter Depth (number)") target = &hdr.counter_depth;
    if (!target) continue;
    *target = parse_decimal(value);
    if (!*target) throw InputError::at(file, "", "'" + key + "'", "a whole number", str::quoted(value));
  }
  return hdr;
}

std::string merlin_hdr_path(const std::string& mib_path) {
  fs::path p(mib_path);
  for (const char* ext : {".hdr", ".HDR"}) {
    fs::path h = p;
    h.replace_extension(ext);
    if (fs::is_regular_file(h)) return h.string();
  }
  return "";
}

namespace {

class MerlinSource : public FrameSource {
 public:
  MerlinSource(const std::string& path, const FrameSourceOptions& options) : FrameSource(path), file_io_(path) {
    const std::uint64_t size = file_io_.size();
    std::string head(std::size_t(std::min<std::uint64_t>(size, kMaxHeaderBytes)), '\0');
    file_io_.read_at(0, head.data(), head.size());
    first_ = parse_mib_header(head, path, 0);
    if (first_.raw())
      throw InputError(path + ": raw (R64) Merlin frames are not supported; record with raw output off "
                              "(counter depth 1/6 gives U08, 12 gives U16, 24 gives U32 frames) or convert the file first");
    const std::uint64_t pixels = std::uint64_t(first_.width) * std::uint64_t(first_.height);
    stride_ = std::uint64_t(first_.header_bytes) + pixels * dtype_size(first_.dtype());
    if (size % stride_ != 0)
      throw InputError::at(path, "", "file size",
                           "a whole number of frames of " + std::to_string(stride_) + " bytes (" +
                               std::to_string(first_.header_bytes) + " header + " + std::to_string(first_.width) + "x" +
                               std::to_string(first_.height) + " " + first_.type + " pixels)",
                           std::to_string(size) + " bytes (" + std::to_string(size / stride_) + " frames and " +
                               std::to_string(size % stride_) + " bytes more: truncated?)");
    frames_ = std::int64_t(size / stride_);
    // The last frame's header too: a file whose frames change size would fail here, before work.
    if (frames_ > 1) check_header(frames_ - 1, read_header(frames_ - 1));

    meta_.shape = {1, frames_, first_.height, first_.width};
    meta_.dtype = first_.dtype();
    if (first_.exposure_s) meta_.acquisition["exposure_s"] = *first_.exposure_s;
    if (first_.counter_depth) meta_.acquisition["counter_depth_bits"] = double(*first_.counter_depth);
    if (!options.scan.empty()) {
      fold_scan(frames_, options.scan, "frames in the file");
      return;
    }
    hdr_ = merlin_hdr_path(path);
    if (hdr_.empty()) return;  // no .hdr: one row of all frames
    std::ifstream in(hdr_, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    const MerlinHdr hdr = parse_merlin_hdr(text.str(), hdr_);
    if (hdr.frames_in_acquisition && *hdr.frames_in_acquisition > 0 && *hdr.frames_in_acquisition != frames_)
      throw InputError::at(path, "", "frame count",
                           std::to_string(*hdr.frames_in_acquisition) + " ('Frames in Acquisition' of " + hdr_ + ")",
                           std::to_string(frames_) + " (in the file); give --scan Rx,Ry to read it anyway");
    // A trigger per scan row gives the row length; one per frame (pixel trigger) tells nothing.
    const std::int64_t per_trigger = hdr.frames_per_trigger.value_or(0);
    if (per_trigger > 1 && frames_ % per_trigger == 0) meta_.shape = {frames_ / per_trigger, per_trigger, first_.height, first_.width};
    if (hdr.counter_depth && !first_.counter_depth) meta_.acquisition["counter_depth_bits"] = double(*hdr.counter_depth);
  }

  std::string format_label() const override { return "Merlin .mib"; }
  std::vector<std::string> companion_files() const override {
    return hdr_.empty() ? std::vector<std::string>{} : std::vector<std::string>{hdr_};
  }

  void read_frames(std::int64_t first, std::int64_t count, void* out) const override {
    if (count <= 0) return;
    if (first < 0 || first + count > frames_)
      throw Error(file_ + ": frames [" + std::to_string(first) + ", " + std::to_string(first + count) +
                      ") requested, the file holds " + std::to_string(frames_) + " (a tmdflow bug)",
                  ExitCode::failure);
    const std::uint64_t data_bytes = stride_ - std::uint64_t(first_.header_bytes);
    // Frames are read in contiguous pieces of about 16 MiB (headers included), then unpacked.
    const std::int64_t per_piece = std::max<std::int64_t>(1, std::int64_t((16u << 20) / stride_));
    std::vector<char> piece(std::size_t(std::min(per_piece, count) * std::int64_t(stride_)));
    auto* dst = static_cast<char*>(out);
    for (std::int64_t f0 = first; f0 < first + count; f0 += per_piece) {
      const std::int64_t n = std::min(per_piece, first + count - f0);
      file_io_.read_at(std::uint64_t(f0) * stride_, piece.data(), std::uint64_t(n) * stride_);
      for (std::int64_t i = 0; i < n; ++i) {
        const char* frame = piece.data() + std::size_t(i) * stride_;
        check_header(f0 + i, std::string_view(frame, std::size_t(first_.header_bytes)));
        std::memcpy(dst, frame + first_.header_bytes, data_bytes);
        dst += data_bytes;
      }
    }
    if (kHostLittleEndian)
      swap_bytes(out, std::size_t(count * meta_.pattern_pixels()), dtype_size(meta_.dtype));
  }

 private:
  std::string read_header(std::int64_t frame) const {
    std::string h(std::size_t(first_.header_bytes), '\0');
    file_io_.read_at(std::uint64_t(frame) * stride_, h.data(), h.size());
    return h;
  }

  // Every frame must look like the first: a different size or type would shift all that follows.
  void check_header(std::int64_t frame, std::string_view bytes) const {
    const MibHeader h = parse_mib_header(bytes, file_, frame);
    auto same = [&](const std::string& field, const std::string& expected, const std::string& found) {
      if (expected != found)
        throw InputError::at(file_, "", frame_what(frame, field), expected + " (as frame 0)", found);
    };
    same("size (bytes)", std::to_string(first_.header_bytes), std::to_string(h.header_bytes));
    same("chip count", std::to_string(first_.chips), std::to_string(h.chips));
    same("width x height", std::to_string(first_.width) + "x" + std::to_string(first_.height),
         std::to_string(h.width) + "x" + std::to_string(h.height));
    same("pixel type", first_.type, h.type);
  }

  BinaryFile file_io_;
  MibHeader first_;
  std::uint64_t stride_ = 0;  // bytes per frame, header included
  std::int64_t frames_ = 0;
  std::string hdr_;
};

}  // namespace

std::unique_ptr<FrameSource> open_merlin(const std::string& path, const FrameSourceOptions& options) {
  return std::make_unique<MerlinSource>(path, options);
}

}  // namespace tmdflow::io
