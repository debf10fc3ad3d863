#include "tmdflow/io/dtype.hpp"

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"

namespace tmdflow::io {

std::string dtype_name(Dtype d) {
  switch (d) {
    case Dtype::u8: return "uint8";
    case Dtype::u16: return "uint16";
    case Dtype::u32: return "uint32";
    case Dtype::u64: return "uint64";
    case Dtype::i8: return "int8";
    case Dtype::i16: return "int16";
    case Dtype::i32: return "int32";
    case Dtype::i64: return "int64";
    case Dtype::f32: return "float32";
    case Dtype::f64: return "float64";
  }
  return "?";
}

Dtype dtype_from_name(const std::string& name0, const std::string& what) {
  std::string n = str::lower(str::trim(name0));
  if (!n.empty() && (n[0] == '<' || n[0] == '>' || n[0] == '=' || n[0] == '|')) n = n.substr(1);
  if (n == "uint8" || n == "u1") return Dtype::u8;  // NumPy: "u8" is uint64
  if (n == "uint16" || n == "u2") return Dtype::u16;
  if (n == "uint32" || n == "u4") return Dtype::u32;
  if (n == "uint64" || n == "u8") return Dtype::u64;
  if (n == "int8" || n == "i1") return Dtype::i8;
  if (n == "int16" || n == "i2") return Dtype::i16;
  if (n == "int32" || n == "i4") return Dtype::i32;
  if (n == "int64" || n == "i8") return Dtype::i64;
  if (n == "float32" || n == "f4" || n == "single") return Dtype::f32;
  if (n == "float64" || n == "f8" || n == "double") return Dtype::f64;
  throw ConfigError(what + ": expected one of uint8, uint16, uint32, uint64, int8, int16, int32, int64, "
                           "float32, float64, found '" + name0 + "'");
}

std::size_t dtype_size(Dtype d) {
  switch (d) {
    case Dtype::u8: case Dtype::i8: return 1;
    case Dtype::u16: case Dtype::i16: return 2;
    case Dtype::u32: case Dtype::i32: case Dtype::f32: return 4;
    default: return 8;
  }
}

bool dtype_is_float(Dtype d) { return d == Dtype::f32 || d == Dtype::f64; }

}  // namespace tmdflow::io
