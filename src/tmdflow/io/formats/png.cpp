#include "tmdflow/io/formats/png.hpp"

#include <png.h>

#include <csetjmp>
#include <cstring>
#include <vector>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/formats/binary_file.hpp"

namespace tmdflow::io {

namespace {

constexpr std::uint32_t kMaxSide = 1u << 20;  // pixels per side; a larger header is corrupt

// libpng's errors longjmp back to the caller; the message is kept for our one-line error.
struct PngContext {
  const unsigned char* data = nullptr;
  std::size_t size = 0, pos = 0;
  char message[256] = {0};
};

void png_read_from_memory(png_structp png, png_bytep out, png_size_t n) {
  auto* c = static_cast<PngContext*>(png_get_io_ptr(png));
  if (n > c->size - c->pos) png_error(png, "file ends early (truncated)");
  std::memcpy(out, c->data + c->pos, n);
  c->pos += n;
}
void png_on_error(png_structp png, png_const_charp msg) {
  auto* c = static_cast<PngContext*>(png_get_error_ptr(png));
  std::snprintf(c->message, sizeof c->message, "%s", msg ? msg : "libpng error");
  // libpng quotes chunk names, bytes of the file: one line.
  for (char* p = c->message; *p; ++p)
    if (static_cast<unsigned char>(*p) < 32 || *p == 127) *p = '?';
  png_longjmp(png, 1);
}
void png_on_warning(png_structp, png_const_charp) {}

struct PngHeader {
  std::uint32_t width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
};

// Decodes `bytes`: the header only (out == nullptr), else the whole image as grey rows of
// 1 or 2 bytes (16-bit in host order). Returns "" on success, else libpng's message. No C++
// object with a destructor lives between setjmp and a longjmp here.
std::string decode(const std::vector<unsigned char>& bytes, PngHeader& h, std::vector<unsigned char>* out, int* channels_out) {
  PngContext ctx;
  ctx.data = bytes.data();
  ctx.size = bytes.size();
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
  if (!png) return "libpng could not start";
  png_infop info = png_create_info_struct(png);
  png_bytepp volatile rows = nullptr;  // set after setjmp, read after a longjmp
  if (!info || setjmp(png_jmpbuf(png))) {
    png_free(png, rows);
    png_destroy_read_struct(&png, &info, nullptr);
    return ctx.message[0] ? ctx.message : "libpng could not decode it";
  }
  png_set_user_limits(png, kMaxSide, kMaxSide);
  png_set_chunk_malloc_max(png, 64u << 20);
  png_set_read_fn(png, &ctx, png_read_from_memory);
  png_read_info(png, info);
  h.width = png_get_image_width(png, info);
  h.height = png_get_image_height(png, info);
  h.bit_depth = png_get_bit_depth(png, info);
  h.color_type = png_get_color_type(png, info);
  if (out) {
    if (h.color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (h.color_type == PNG_COLOR_TYPE_GRAY && h.bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    png_set_strip_alpha(png);
    if (h.bit_depth == 16 && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) png_set_swap(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const std::size_t row_bytes = png_get_rowbytes(png, info);
    *channels_out = png_get_channels(png, info);
    out->resize(row_bytes * h.height);
    rows = static_cast<png_bytepp>(png_malloc(png, sizeof(png_bytep) * h.height));
    for (std::uint32_t r = 0; r < h.height; ++r) rows[r] = out->data() + r * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, nullptr);
  }
  png_free(png, rows);
  png_destroy_read_struct(&png, &info, nullptr);
  return "";
}

std::vector<unsigned char> read_whole(const BinaryFile& f) {
  std::vector<unsigned char> bytes(std::size_t(f.size()));
  f.read_at(0, bytes.data(), bytes.size());
  return bytes;
}

class PngImage : public ImageSource {
 public:
  explicit PngImage(const std::string& path) : ImageSource(path), file_io_(path) {
    // The header is all open needs; it sits in the first chunks, so a few KiB are read.
    std::vector<unsigned char> head(std::size_t(std::min<std::uint64_t>(file_io_.size(), 1u << 16)));
    file_io_.read_at(0, head.data(), head.size());
    if (head.size() < 8 || png_sig_cmp(head.data(), 0, 8) != 0) fail("a PNG signature", "other bytes");
    PngHeader h;
    std::string err = decode(head, h, nullptr, nullptr);
    // Large ancillary chunks (ICC profiles, text) may push the image header beyond the first read.
    if (!err.empty() && head.size() < file_io_.size()) err = decode(read_whole(file_io_), h, nullptr, nullptr);
    if (!err.empty()) fail("a readable PNG header", err);
    if (h.bit_depth != 8 && h.bit_depth != 16 && !(h.color_type == PNG_COLOR_TYPE_GRAY || h.color_type == PNG_COLOR_TYPE_PALETTE))
      fail("8- or 16-bit samples", std::to_string(h.bit_depth) + "-bit");
    ImageSignal s;
    const std::string name = path.substr(path.find_last_of('/') + 1);
    s.title = name.substr(0, name.rfind('.'));
    s.dtype = h.bit_depth == 16 ? Dtype::u16 : Dtype::u8;
    s.height = h.height;
    s.width = h.width;
    s.axes = {{"height", 1, 0, ""}, {"width", 1, 0, ""}};
    signals_.push_back(s);
  }

  std::string format_label() const override { return "PNG"; }

  void read_frames(std::size_t signal, std::int64_t first, std::int64_t count, void* out) const override {
    if (signal != 0 || first < 0 || count < 0 || first + count > 1)
      fail("frames within [0, 1)", "[" + std::to_string(first) + ", " + std::to_string(first + count) + ")");
    if (count == 0) return;
    const auto bytes = read_whole(file_io_);
    PngHeader h;
    std::vector<unsigned char> pixels;
    int channels = 1;
    const std::string err = decode(bytes, h, &pixels, &channels);
    if (!err.empty()) fail("a decodable PNG image", err);
    const ImageSignal& s = signals_[0];
    if (std::int64_t(h.width) != s.width || std::int64_t(h.height) != s.height) fail("the header's size", "another size");
    if (s.dtype == Dtype::u8) to_grey(reinterpret_cast<const std::uint8_t*>(pixels.data()), channels, static_cast<std::uint8_t*>(out));
    else to_grey(reinterpret_cast<const std::uint16_t*>(pixels.data()), channels, static_cast<std::uint16_t*>(out));
  }

 private:
  [[noreturn]] void fail(const std::string& expected, const std::string& found) const {
    throw InputError(file_ + ": expected " + expected + ", found " + found);
  }

  template <class T>
  void to_grey(const T* in, int channels, T* out) const {
    const std::size_t n = std::size_t(signals_[0].height) * std::size_t(signals_[0].width);
    if (channels == 1) {
      std::memcpy(out, in, n * sizeof(T));
      return;
    }
    bool differ = false;
    for (std::size_t i = 0; i < n; ++i) {
      const T* p = in + i * std::size_t(channels);
      if (channels >= 3 && (p[0] != p[1] || p[0] != p[2])) differ = true;
      // Rounded mean of the colour channels (alpha was stripped): equal channels keep their value.
      const std::uint32_t sum = channels >= 3 ? std::uint32_t(p[0]) + p[1] + p[2] : p[0];
      out[i] = T(channels >= 3 ? (sum + 1) / 3 : sum);
    }
    if (differ)
      log::warn_any_rank(file_, ": colour channels differ: made grey as the mean of red, green and blue (a rendered or annotated "
                                "image? prefer the detector's raw data)");
  }

  BinaryFile file_io_;
};

}  // namespace

std::unique_ptr<ImageSource> open_png_image(const std::string& path) { return std::make_unique<PngImage>(path); }

}  // namespace tmdflow::io
