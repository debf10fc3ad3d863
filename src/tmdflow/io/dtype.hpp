#pragma once
// Element types of arrays as tmdflow names them (NumPy's names: uint16, float32, ...).
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace tmdflow::io {

enum class Dtype { u8, u16, u32, u64, i8, i16, i32, i64, f32, f64 };

std::string dtype_name(Dtype d);
/// Accepts NumPy names and short forms: uint16, u2, <u2, >f4, float32, f4, int8, i1, ...
Dtype dtype_from_name(const std::string& name, const std::string& what = "dtype");
std::size_t dtype_size(Dtype d);
bool dtype_is_float(Dtype d);

template <class T>
constexpr Dtype dtype_of() {
  if constexpr (std::is_same_v<T, std::uint8_t>) return Dtype::u8;
  else if constexpr (std::is_same_v<T, std::uint16_t>) return Dtype::u16;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return Dtype::u32;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return Dtype::u64;
  else if constexpr (std::is_same_v<T, std::int8_t>) return Dtype::i8;
  else if constexpr (std::is_same_v<T, std::int16_t>) return Dtype::i16;
  else if constexpr (std::is_same_v<T, std::int32_t>) return Dtype::i32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return Dtype::i64;
  else if constexpr (std::is_same_v<T, float>) return Dtype::f32;
  else if constexpr (std::is_same_v<T, double>) return Dtype::f64;
  else static_assert(sizeof(T) == 0, "unsupported element type");
}

/// Calls f(T{}) with the C++ type of d: visit_dtype(d, [&](auto tag) { using T = decltype(tag); ... }).
template <class F>
decltype(auto) visit_dtype(Dtype d, F&& f) {
  switch (d) {
    case Dtype::u8: return f(std::uint8_t{});
    case Dtype::u16: return f(std::uint16_t{});
    case Dtype::u32: return f(std::uint32_t{});
    case Dtype::u64: return f(std::uint64_t{});
    case Dtype::i8: return f(std::int8_t{});
    case Dtype::i16: return f(std::int16_t{});
    case Dtype::i32: return f(std::int32_t{});
    case Dtype::i64: return f(std::int64_t{});
    case Dtype::f32: return f(float{});
    case Dtype::f64: break;
  }
  return f(double{});
}

}  // namespace tmdflow::io
