#include "tmdflow/io/mpiio_hints.hpp"

#include <cstdlib>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"

namespace tmdflow::io {

std::vector<std::pair<std::string, std::string>> parse_mpiio_hints(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& entry : str::split(text, ',')) {
    const std::string e = str::trim(entry);
    if (e.empty()) continue;
    const auto eq = e.find('=');
    const std::string key = eq == std::string::npos ? "" : str::trim(e.substr(0, eq));
    const std::string value = eq == std::string::npos ? "" : str::trim(e.substr(eq + 1));
    if (key.empty() || value.empty())
      throw UsageError("TMDFLOW_MPIIO_HINTS: expected key=value entries separated by commas (e.g. striping_factor=8), found '" + e + "'");
    out.emplace_back(key, value);
  }
  return out;
}

MpiioHints::MpiioHints() {
  const char* env = std::getenv("TMDFLOW_MPIIO_HINTS");
  if (!env) return;
  const auto hints = parse_mpiio_hints(env);
  if (hints.empty()) return;
  MPI_Info_create(&info_);
  for (const auto& [k, v] : hints) MPI_Info_set(info_, k.c_str(), v.c_str());
}

MpiioHints::~MpiioHints() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (info_ != MPI_INFO_NULL && !finalized) MPI_Info_free(&info_);
}

std::uint64_t hdf5_alignment_from_environment() {
  const char* env = std::getenv("TMDFLOW_HDF5_ALIGNMENT");
  if (!env || !*env) return 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(env, &end, 10);
  if (!end || *end || v == 0 || env[0] == '-')
    throw UsageError(std::string("TMDFLOW_HDF5_ALIGNMENT: expected a positive number of bytes (e.g. 4194304), found '") + env + "'");
  return v;
}

}  // namespace tmdflow::io
