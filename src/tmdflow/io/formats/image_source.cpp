// The image-format dispatcher: names, detection (content first, extension second) and opening.
#include "tmdflow/io/formats/image_source.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/formats/binary_file.hpp"
#include "tmdflow/io/formats/dm.hpp"
#include "tmdflow/io/formats/emd_image.hpp"
#include "tmdflow/io/formats/mrc.hpp"
#include "tmdflow/io/formats/npy.hpp"
#include "tmdflow/io/formats/npy_image.hpp"
#include "tmdflow/io/formats/png.hpp"
#include "tmdflow/io/formats/tia.hpp"
#include "tmdflow/io/formats/tiff.hpp"
#include "tmdflow/io/formats/velox.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/product.hpp"

namespace fs = std::filesystem;

namespace tmdflow::io {

namespace {

const std::vector<std::pair<ImageFormat, std::string>>& format_names() {
  static const std::vector<std::pair<ImageFormat, std::string>> names = {
      {ImageFormat::automatic, "auto"}, {ImageFormat::tiff, "tiff"}, {ImageFormat::png, "png"}, {ImageFormat::dm, "dm"},
      {ImageFormat::velox, "velox"},    {ImageFormat::mrc, "mrc"},   {ImageFormat::tia, "tia"}, {ImageFormat::emd, "emd"},
      {ImageFormat::npy, "npy"}};
  return names;
}

std::string extension(const std::string& path) { return str::lower(fs::path(path).extension().string()); }

// Velox writes /Data (per-signal groups) and /Version (its JSON version string); EMD 1.0 marks its
// groups with emd_group_type.
bool is_velox(const std::string& path) {
  auto f = FileRegistry::open(path, h5::Mode::read, nullptr);
  const h5::Group root = f->root();
  return root.kind("Data") == h5::LinkKind::group && root.kind("Version") == h5::LinkKind::dataset;
}

std::optional<ImageFormat> format_from_magic(const std::string& path) {
  unsigned char head[16] = {0};
  std::uint64_t n = 0;
  {
    BinaryFile f(path);
    n = f.read_some_at(0, head, sizeof head);
  }
  auto starts = [&](const char* magic, std::size_t len) { return n >= len && std::memcmp(head, magic, len) == 0; };
  if (starts("II*\0", 4) || starts("MM\0*", 4) || starts("II+\0", 4) || starts("MM\0+", 4)) return ImageFormat::tiff;
  if (starts("\x89PNG\r\n\x1a\n", 8)) return ImageFormat::png;
  if (starts("\x93NUMPY", 6)) return ImageFormat::npy;
  // DM3/DM4: a big-endian version 3 or 4 as the first 4 bytes.
  if (starts("\0\0\0\x03", 4) || starts("\0\0\0\x04", 4)) {
    const std::string e = extension(path);
    if (e == ".dm3" || e == ".dm4") return ImageFormat::dm;
  }
  // TIA .ser: byte order 0x4949 and series id 0x0197.
  if (starts("II\x97\x01", 4)) return ImageFormat::tia;
  if (h5::File::is_hdf5(path)) return is_velox(path) ? ImageFormat::velox : ImageFormat::emd;
  // MRC: the map marker "MAP " at byte 208 (MRC2000 and later).
  {
    BinaryFile f(path);
    char map[4] = {0};
    if (f.size() >= 1024 && f.read_some_at(208, map, 4) == 4 && std::memcmp(map, "MAP ", 4) == 0) return ImageFormat::mrc;
  }
  return std::nullopt;
}

std::optional<ImageFormat> format_from_extension(const std::string& path) {
  const std::string e = extension(path);
  if (e == ".tif" || e == ".tiff") return ImageFormat::tiff;
  if (e == ".png") return ImageFormat::png;
  if (e == ".dm3" || e == ".dm4") return ImageFormat::dm;
  if (e == ".mrc" || e == ".mrcs" || e == ".st" || e == ".ali") return ImageFormat::mrc;
  if (e == ".emi" || e == ".ser") return ImageFormat::tia;
  if (e == ".emd" || e == ".h5" || e == ".hdf5") return ImageFormat::emd;
  if (e == ".npy") return ImageFormat::npy;
  return std::nullopt;
}

}  // namespace

ImageFormat image_format_from_name(const std::string& name, const std::string& what) {
  const std::string n = str::lower(str::trim(name));
  for (const auto& [f, s] : format_names())
    if (s == n || (f == ImageFormat::tiff && n == "tif")) return f;
  std::vector<std::string> all;
  for (const auto& [f, s] : format_names()) all.push_back(s);
  throw ConfigError(what + ": expected one of " + str::join(all, ", ") + ", found '" + name + "'");
}

std::string image_format_name(ImageFormat f) {
  for (const auto& [k, s] : format_names())
    if (k == f) return s;
  return "auto";
}

ImageFormat detect_image_format(const std::string& path) {
  if (!fs::is_regular_file(path)) throw IoError(path + ": no such file");
  if (auto f = format_from_magic(path)) return *f;
  if (auto f = format_from_extension(path)) return *f;
  throw InputError(path + ": expected an image file (TIFF, PNG, DM3/DM4, Velox EMD, MRC, TIA, EMD 1.0, .npy), found neither a known "
                          "signature nor a known extension");
}

bool looks_like_image_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  try {
    std::optional<ImageFormat> f = format_from_magic(path);
    if (!f) f = format_from_extension(path);
    if (!f) return false;
    switch (*f) {
      case ImageFormat::emd: return emd_file_holds_images(path);
      case ImageFormat::npy: {
        // 2-D or 3-D arrays are images; 4-D (or 3-D frames folded with --scan) a datacube.
        BinaryFile file(path);
        std::string head(std::size_t(std::min<std::uint64_t>(file.size(), 4096)), '\0');
        file.read_at(0, head.data(), head.size());
        const auto shape = parse_npy_header(head, path).shape;
        return shape.size() == 2 || shape.size() == 3;
      }
      default: return true;
    }
  } catch (const Error&) {
    // A damaged file is an image file when its extension says so: the reader gives the error.
    const auto f = format_from_extension(path);
    return f && *f != ImageFormat::emd && *f != ImageFormat::npy;
  }
}

std::unique_ptr<ImageSource> open_image_source(const std::string& path, ImageFormat format) {
  if (format == ImageFormat::automatic) format = detect_image_format(path);
  switch (format) {
    case ImageFormat::tiff: return open_tiff_image(path);
    case ImageFormat::png: return open_png_image(path);
    case ImageFormat::mrc: return open_mrc_image(path);
    case ImageFormat::npy: return open_npy_image(path);
    case ImageFormat::emd: return open_emd_image(path);
    case ImageFormat::dm: return open_dm_image(path);
    case ImageFormat::velox: return open_velox_image(path);
    case ImageFormat::tia: return open_tia_image(path);
    case ImageFormat::automatic: break;
  }
  throw InputError(path + ": no reader for its format");
}

}  // namespace tmdflow::io
