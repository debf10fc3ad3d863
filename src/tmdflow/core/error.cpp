#include "tmdflow/core/error.hpp"

namespace tmdflow {

std::string where(const std::string& file, const std::string& dataset) {
  std::string s = file;
  if (!dataset.empty()) s += ":" + dataset;
  return s + ": ";
}

InputError InputError::at(const std::string& file, const std::string& dataset, const std::string& what,
                          const std::string& expected, const std::string& found) {
  return InputError(where(file, dataset) + what + ": expected " + expected + ", found " + found);
}

}  // namespace tmdflow
