#include "tmdflow/io/formats/tiff.hpp"

#include <tiffio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/formats/image_units.hpp"

namespace tmdflow::io {

namespace {

// libtiff reports problems through process-wide handlers; keep the last error for our one-line
// message instead of letting libtiff print to stderr.
thread_local std::string last_tiff_error;

void tiff_error(const char* module, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  // The module is often the file's name, and messages may quote the file's bytes: one line.
  last_tiff_error = printable(std::string(module ? module : "libtiff") + ": " + buf);
}
void tiff_warning(const char*, const char*, va_list) {}

void install_handlers() {
  static const bool installed = [] {
    TIFFSetErrorHandler(tiff_error);
    TIFFSetWarningHandler(tiff_warning);
    return true;
  }();
  (void)installed;
}

// A file of more pages than this is refused (a stack of 10^6 frames is a movie in another format).
constexpr int kMaxPages = 1 << 20;

struct PageLayout {
  std::uint32_t width = 0, height = 0;
  std::uint16_t bits = 0, sample_format = SAMPLEFORMAT_UINT, samples = 1, planar = PLANARCONFIG_CONTIG;
  bool tiled = false;
  bool operator==(const PageLayout& o) const {
    return width == o.width && height == o.height && bits == o.bits && sample_format == o.sample_format && samples == o.samples;
  }
};

std::string layout_text(const PageLayout& p) {
  static const std::map<int, std::string> formats = {{SAMPLEFORMAT_UINT, "uint"}, {SAMPLEFORMAT_INT, "int"}, {SAMPLEFORMAT_IEEEFP, "float"}};
  auto f = formats.find(p.sample_format);
  return std::to_string(p.width) + "x" + std::to_string(p.height) + " " + (f == formats.end() ? "format" + std::to_string(p.sample_format) : f->second) +
         std::to_string(p.bits) + (p.samples == 1 ? "" : " x" + std::to_string(p.samples) + " samples");
}

std::optional<Dtype> dtype_of_layout(const PageLayout& p) {
  switch (p.sample_format) {
    case SAMPLEFORMAT_UINT:
      if (p.bits == 8) return Dtype::u8;
      if (p.bits == 16) return Dtype::u16;
      if (p.bits == 32) return Dtype::u32;
      break;
    case SAMPLEFORMAT_INT:
      if (p.bits == 8) return Dtype::i8;
      if (p.bits == 16) return Dtype::i16;
      if (p.bits == 32) return Dtype::i32;
      break;
    case SAMPLEFORMAT_IEEEFP:
      if (p.bits == 32) return Dtype::f32;
      if (p.bits == 64) return Dtype::f64;
      break;
    default: break;
  }
  return std::nullopt;
}

// A tag libtiff does not know (DigitalMicrograph's 650xx) as libtiff hands it over: an anonymous
// field of counted values.
std::optional<double> private_double(TIFF* t, ttag_t tag) {
  const TIFFField* f = TIFFFieldWithTag(t, tag);
  if (!f || !TIFFFieldPassCount(f)) return std::nullopt;
  void* data = nullptr;
  bool ok = false;
  std::uint32_t count = 0;
  if (TIFFFieldReadCount(f) == TIFF_VARIABLE2) {
    ok = TIFFGetField(t, tag, &count, &data) == 1;
  } else {
    std::uint16_t c16 = 0;
    ok = TIFFGetField(t, tag, &c16, &data) == 1;
    count = c16;
  }
  if (!ok || count < 1 || !data) return std::nullopt;
  switch (TIFFFieldDataType(f)) {
    case TIFF_DOUBLE: return *static_cast<const double*>(data);
    case TIFF_FLOAT: return double(*static_cast<const float*>(data));
    case TIFF_LONG: return double(*static_cast<const std::uint32_t*>(data));
    case TIFF_SLONG: return double(*static_cast<const std::int32_t*>(data));
    case TIFF_SHORT: return double(*static_cast<const std::uint16_t*>(data));
    default: return std::nullopt;
  }
}

std::optional<std::string> private_string(TIFF* t, ttag_t tag) {
  const TIFFField* f = TIFFFieldWithTag(t, tag);
  if (!f || !TIFFFieldPassCount(f) || TIFFFieldDataType(f) != TIFF_ASCII) return std::nullopt;
  void* data = nullptr;
  std::uint32_t count = 0;
  bool ok = false;
  if (TIFFFieldReadCount(f) == TIFF_VARIABLE2) {
    ok = TIFFGetField(t, tag, &count, &data) == 1;
  } else {
    std::uint16_t c16 = 0;
    ok = TIFFGetField(t, tag, &c16, &data) == 1;
    count = c16;
  }
  if (!ok || !data) return std::nullopt;
  const char* s = static_cast<const char*>(data);
  return std::string(s, strnlen(s, count));
}

// ImageJ writes "ImageJ=1.51d\nimages=2\nunit=micron\nspacing=2.5\n..." in ImageDescription.
std::map<std::string, std::string> imagej_fields(const std::string& description) {
  std::map<std::string, std::string> out;
  if (description.rfind("ImageJ=", 0) != 0) return out;
  std::istringstream in(description);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) out[str::trim(line.substr(0, eq))] = str::trim(line.substr(eq + 1));
  }
  return out;
}

std::optional<double> parse_number(const std::string& s) {
  try {
    std::size_t used = 0;
    const double v = std::stod(s, &used);
    if (used == s.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

class TiffImage : public ImageSource {
 public:
  explicit TiffImage(const std::string& path) : ImageSource(path) {
    install_handlers();
    last_tiff_error.clear();
    // "m": no memory mapping (a file truncated after opening must give an error, not SIGBUS).
    // "c": a single uncompressed strip is not chopped into strips of 8 KiB (it is read in one go).
    tif_ = TIFFOpen(path.c_str(), "rmc");
    if (!tif_) fail("", "a TIFF file", last_tiff_error.empty() ? "a file libtiff cannot open" : last_tiff_error);
    // A constructor that throws runs no destructor: close the file here (found by fuzz_tiff).
    try {
      scan_pages();
      ImageSignal s;
      s.title = title_from_path(path);
      s.dtype = dtype_;
      s.frames = std::int64_t(pages_.size());
      s.height = layout_.height;
      s.width = layout_.width;
      TIFFSetSubDirectory(tif_, pages_[0]);
      calibrate(s);
      signals_.push_back(std::move(s));
    } catch (...) {
      TIFFClose(tif_);
      tif_ = nullptr;
      throw;
    }
  }
  ~TiffImage() override {
    if (tif_) TIFFClose(tif_);
  }

  std::string format_label() const override { return "TIFF"; }

  void read_frames(std::size_t signal, std::int64_t first, std::int64_t count, void* out) const override {
    if (signal != 0 || first < 0 || count < 0 || first + count > std::int64_t(pages_.size()))
      throw InputError::at(file_, "", "frames", "frames within [0, " + std::to_string(pages_.size()) + ")",
                           "[" + std::to_string(first) + ", " + std::to_string(first + count) + ")");
    const std::uint64_t frame_bytes = signals_[0].frame_bytes();
    for (std::int64_t k = 0; k < count; ++k) read_page(first + k, static_cast<char*>(out) + std::uint64_t(k) * frame_bytes);
  }

 private:
  [[noreturn]] void fail(const std::string& where_in_file, const std::string& expected, const std::string& found) const {
    throw InputError(file_ + ": " + (where_in_file.empty() ? "" : where_in_file + ": ") + "expected " + expected + ", found " + found);
  }

  static std::string title_from_path(const std::string& path) {
    std::string name = path.substr(path.find_last_of('/') + 1);
    return name.substr(0, name.rfind('.'));
  }

  PageLayout read_layout(int page) {
    PageLayout p;
    std::uint16_t photometric = PHOTOMETRIC_MINISBLACK;
    TIFFGetField(tif_, TIFFTAG_IMAGEWIDTH, &p.width);
    TIFFGetField(tif_, TIFFTAG_IMAGELENGTH, &p.height);
    TIFFGetFieldDefaulted(tif_, TIFFTAG_BITSPERSAMPLE, &p.bits);
    TIFFGetFieldDefaulted(tif_, TIFFTAG_SAMPLEFORMAT, &p.sample_format);
    TIFFGetFieldDefaulted(tif_, TIFFTAG_SAMPLESPERPIXEL, &p.samples);
    TIFFGetFieldDefaulted(tif_, TIFFTAG_PLANARCONFIG, &p.planar);
    TIFFGetFieldDefaulted(tif_, TIFFTAG_PHOTOMETRIC, &photometric);
    p.tiled = TIFFIsTiled(tif_);
    const std::string where = "page " + std::to_string(page);
    if (p.width == 0 || p.height == 0) fail(where, "an image of at least 1x1 pixels", layout_text(p));
    if (p.samples != 1)
      fail(where, "a grey image (1 sample per pixel; convert colour images to grey first)", layout_text(p));
    // A palette image keeps its indices, as RosettaSciIO reads it (microscope software writes grey ramps).
    if (photometric != PHOTOMETRIC_MINISBLACK && photometric != PHOTOMETRIC_MINISWHITE && photometric != PHOTOMETRIC_PALETTE)
      fail(where, "a grey image (photometric interpretation 0, 1 or 3)", "photometric interpretation " + std::to_string(photometric));
    if (!dtype_of_layout(p)) fail(where, "8/16/32-bit integer or 32/64-bit float samples", layout_text(p));
    // An image's size must be representable and reasonable: 2^31 pixels a side at most, 2^40 bytes a page.
    const std::uint64_t bytes = std::uint64_t(p.width) * p.height * (p.bits / 8);
    if (bytes > (std::uint64_t(1) << 40)) fail(where, "a page of at most 2^40 bytes", layout_text(p));
    return p;
  }

  void scan_pages() {
    int page = 0;
    do {
      std::uint32_t subfile = 0;
      TIFFGetFieldDefaulted(tif_, TIFFTAG_SUBFILETYPE, &subfile);
      // Reduced-resolution copies (thumbnails, pyramids) are not frames of the stack.
      if ((subfile & FILETYPE_REDUCEDIMAGE) == 0) {
        const PageLayout p = read_layout(page);
        if (pages_.empty()) {
          layout_ = p;
          dtype_ = *dtype_of_layout(p);
        } else if (!(p == layout_)) {
          fail("page " + std::to_string(page), "the size and type of page 0 (" + layout_text(layout_) + ")", layout_text(p));
        }
        pages_.push_back(TIFFCurrentDirOffset(tif_));
        tiled_.push_back(p.tiled);
      }
      if (++page > kMaxPages) fail("", "at most " + std::to_string(kMaxPages) + " pages", "more");
      last_tiff_error.clear();
    } while (TIFFReadDirectory(tif_));
    // The chain of directories ended in an error (a truncated or damaged file), not at its end.
    if (!last_tiff_error.empty()) fail("page " + std::to_string(page), "a readable TIFF directory", last_tiff_error);
    if (pages_.empty()) fail("", "at least one full-resolution page", "none");
  }

  void calibrate(ImageSignal& s) {
    const bool stack = s.frames > 1;
    ImageAxis frame{"", 1, 0, ""}, y{"height", 1, 0, ""}, x{"width", 1, 0, ""};
    bool have_scale = false;
    // DigitalMicrograph: 65003/65004/65005 units, 65006/65007/65008 origins, 65009/65010/65011
    // scales of x, y and the frame axis (the tags' order; RosettaSciIO reads them so too).
    const bool dm = private_double(tif_, 65009) || private_double(tif_, 65010) || private_string(tif_, 65003);
    if (dm) {
      if (auto u = private_string(tif_, 65003)) x.units = units_utf8(*u);
      if (auto u = private_string(tif_, 65004)) y.units = units_utf8(*u);
      if (auto u = private_string(tif_, 65005)) frame.units = units_utf8(*u);
      if (auto v = private_double(tif_, 65006)) x.offset = *v;
      if (auto v = private_double(tif_, 65007)) y.offset = *v;
      if (auto v = private_double(tif_, 65008)) frame.offset = *v;
      if (auto v = private_double(tif_, 65009)) x.scale = *v;
      if (auto v = private_double(tif_, 65010)) y.scale = *v;
      if (auto v = private_double(tif_, 65011)) frame.scale = *v;
      frame.name = "image series";
      have_scale = true;
    }
    char* desc = nullptr;
    const std::string description = TIFFGetField(tif_, TIFFTAG_IMAGEDESCRIPTION, &desc) == 1 && desc ? std::string(desc) : std::string();
    const auto ij = imagej_fields(description);
    float xres = 0, yres = 0;
    std::uint16_t res_unit = RESUNIT_INCH;
    const bool have_res = TIFFGetField(tif_, TIFFTAG_XRESOLUTION, &xres) == 1 && TIFFGetField(tif_, TIFFTAG_YRESOLUTION, &yres) == 1 &&
                          xres > 0 && yres > 0 && std::isfinite(xres) && std::isfinite(yres);
    TIFFGetFieldDefaulted(tif_, TIFFTAG_RESOLUTIONUNIT, &res_unit);
    if (!ij.empty()) {
      frame.name = "depth";
      if (auto it = ij.find("unit"); it != ij.end() && have_res && !have_scale) {
        const std::string u = it->second == "micron" ? "\xC2\xB5m" : units_utf8(it->second);
        x = {"width", 1.0 / double(xres), 0, u};
        y = {"height", 1.0 / double(yres), 0, u};
      }
      if (auto it = ij.find("spacing"); it != ij.end() && !dm)
        if (auto v = parse_number(it->second)) frame.scale = *v;
      if (auto it = ij.find("finterval"); it != ij.end() && !dm)
        if (auto v = parse_number(it->second); v && *v > 0) {
          frame = {"time", *v, 0, "s"};
        }
    } else if (!dm && have_res && res_unit == RESUNIT_CENTIMETER) {
      // Resolution in pixels per centimetre: a physical pixel size (inches are a display's dpi).
      x = {"width", 1e4 / double(xres), 0, "\xC2\xB5m"};
      y = {"height", 1e4 / double(yres), 0, "\xC2\xB5m"};
    }
    s.axes.clear();
    if (stack) s.axes.push_back(frame);
    s.axes.push_back(y);
    s.axes.push_back(x);
    const double ky = length_unit_in_A(y.units), kx = length_unit_in_A(x.units);
    if (ky > 0 && kx > 0 && y.scale > 0 && x.scale > 0 && std::isfinite(y.scale) && std::isfinite(x.scale)) {
      s.pixel_size_y_A = y.scale * ky;
      s.pixel_size_x_A = x.scale * kx;
    }
    if (stack) {
      const double kt = time_unit_in_s(frame.units);
      if (kt > 0 && frame.scale > 0 && std::isfinite(frame.scale)) s.frame_time_s = frame.scale * kt;
    }
    if (s.frame_time_s > 0) s.acquisition["frame_time_s"] = s.frame_time_s;
  }

  void read_page(std::int64_t page, char* out) const {
    const std::string where = "page " + std::to_string(page);
    last_tiff_error.clear();
    if (!TIFFSetSubDirectory(tif_, pages_[std::size_t(page)]))
      fail(where, "a readable TIFF directory", last_tiff_error.empty() ? "none" : last_tiff_error);
    const std::size_t elem = dtype_size(dtype_);
    const std::size_t row_bytes = std::size_t(layout_.width) * elem;
    if (tiled_[std::size_t(page)]) {
      std::uint32_t tw = 0, th = 0;
      TIFFGetField(tif_, TIFFTAG_TILEWIDTH, &tw);
      TIFFGetField(tif_, TIFFTAG_TILELENGTH, &th);
      const tmsize_t tile_bytes = TIFFTileSize(tif_);
      if (tw == 0 || th == 0 || tile_bytes <= 0 || std::uint64_t(tile_bytes) != std::uint64_t(tw) * th * elem)
        fail(where, "tiles of whole samples", "tiles of " + std::to_string(tw) + "x" + std::to_string(th));
      std::vector<char> tile(static_cast<std::size_t>(tile_bytes));
      for (std::uint32_t ty = 0; ty < layout_.height; ty += th)
        for (std::uint32_t tx = 0; tx < layout_.width; tx += tw) {
          if (TIFFReadTile(tif_, tile.data(), tx, ty, 0, 0) < 0)
            fail(where, "tile at (" + std::to_string(ty) + ", " + std::to_string(tx) + ") readable", last_tiff_error);
          const std::uint32_t rows = std::min(th, layout_.height - ty), cols = std::min(tw, layout_.width - tx);
          for (std::uint32_t r = 0; r < rows; ++r)
            std::memcpy(out + (std::size_t(ty) + r) * row_bytes + std::size_t(tx) * elem, tile.data() + std::size_t(r) * tw * elem,
                        std::size_t(cols) * elem);
        }
    } else if (!read_contiguous_strips(where, out, std::size_t(layout_.height) * row_bytes)) {
      std::uint32_t rows_per_strip = layout_.height;
      TIFFGetFieldDefaulted(tif_, TIFFTAG_ROWSPERSTRIP, &rows_per_strip);
      rows_per_strip = std::max<std::uint32_t>(1, std::min(rows_per_strip, layout_.height));
      const tstrip_t strips = TIFFNumberOfStrips(tif_);
      const std::uint32_t needed = (layout_.height + rows_per_strip - 1) / rows_per_strip;
      if (strips < needed) fail(where, std::to_string(needed) + " strips", std::to_string(strips));
      for (std::uint32_t k = 0; k < needed; ++k) {
        const std::uint32_t row0 = k * rows_per_strip;
        const std::size_t bytes = std::size_t(std::min(rows_per_strip, layout_.height - row0)) * row_bytes;
        // Decoded straight into the frame: a strip's rows are consecutive rows of the image.
        const tmsize_t got = TIFFReadEncodedStrip(tif_, k, out + std::size_t(row0) * row_bytes, tmsize_t(bytes));
        if (got < 0 || std::size_t(got) != bytes)
          fail(where, "strip " + std::to_string(k) + " of " + std::to_string(bytes) + " bytes",
               got < 0 ? (last_tiff_error.empty() ? "an unreadable strip" : last_tiff_error) : std::to_string(got) + " bytes");
      }
    }
    std::uint16_t photometric = PHOTOMETRIC_MINISBLACK;
    TIFFGetFieldDefaulted(tif_, TIFFTAG_PHOTOMETRIC, &photometric);
    (void)photometric;  // MINISWHITE kept as stored: the values are the detector's, not a display's
  }

  // Uncompressed strips stored back to back (as microscope software, tifffile and ImageJ write
  // them): the page's bytes in one read straight into the frame, swapped in place when the file's
  // byte order is not the machine's. False (nothing read) for any other layout: libtiff decodes it.
  bool read_contiguous_strips(const std::string& where, char* out, std::size_t bytes) const {
    std::uint16_t compression = COMPRESSION_NONE, fill_order = FILLORDER_MSB2LSB;
    TIFFGetFieldDefaulted(tif_, TIFFTAG_COMPRESSION, &compression);
    TIFFGetFieldDefaulted(tif_, TIFFTAG_FILLORDER, &fill_order);
    const tstrip_t strips = TIFFNumberOfStrips(tif_);
    if (compression != COMPRESSION_NONE || fill_order != FILLORDER_MSB2LSB || strips == 0) return false;
    const std::uint64_t start = TIFFGetStrileOffset(tif_, 0);
    std::uint64_t end = start;
    for (tstrip_t k = 0; k < strips && end - start < bytes; ++k) {
      const std::uint64_t count = TIFFGetStrileByteCount(tif_, k);
      if (TIFFGetStrileOffset(tif_, k) != end || count > (std::uint64_t(1) << 62)) return false;
      end += count;
    }
    if (start == 0 || end - start < bytes) return false;  // libtiff says what is wrong
    const int fd = TIFFFileno(tif_);
    std::size_t done = 0;
    while (done < bytes) {
      const ssize_t got = ::pread(fd, out + done, bytes - done, off_t(start + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0)
        fail(where, std::to_string(bytes) + " bytes of pixels from offset " + std::to_string(start),
             got < 0 ? std::string("a read error (") + std::strerror(errno) + ")" : "the file ends after " + std::to_string(done));
      done += std::size_t(got);
    }
    if (TIFFIsByteSwapped(tif_)) {
      switch (dtype_size(dtype_)) {
        case 2: TIFFSwabArrayOfShort(reinterpret_cast<std::uint16_t*>(out), tmsize_t(bytes / 2)); break;
        case 4: TIFFSwabArrayOfLong(reinterpret_cast<std::uint32_t*>(out), tmsize_t(bytes / 4)); break;
        case 8: TIFFSwabArrayOfLong8(reinterpret_cast<std::uint64_t*>(out), tmsize_t(bytes / 8)); break;
        default: break;
      }
    }
    return true;
  }

  TIFF* tif_ = nullptr;
  PageLayout layout_;
  Dtype dtype_ = Dtype::u8;
  std::vector<toff_t> pages_;
  std::vector<bool> tiled_;
};

}  // namespace

std::unique_ptr<ImageSource> open_tiff_image(const std::string& path) { return std::make_unique<TiffImage>(path); }

}  // namespace tmdflow::io
