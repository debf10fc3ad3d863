#pragma once
// The product schemas of data_schema/ (compiled into the program) and the two commands that read
// products: inspect (print the tree) and validate (check EMD 1.0 structure and every product
// against its schema).
#include <string>
#include <vector>

namespace tmdflow::io {

/// The schema files compiled in: {"datacube/1", text}, ...
struct SchemaText {
  std::string name;  // "datacube/1"
  std::string text;
};
const std::vector<SchemaText>& builtin_schemas();

struct ValidationReport {
  std::string file;
  std::vector<std::string> checked;   // "/datacube_root: datacube/1"
  std::vector<std::string> problems;  // one line each, naming the object
  std::string text() const;
};

/// Checks the EMD 1.0 tree and each product group (tmdflow_product) against its schema.
ValidationReport validate_file(const std::string& path);

/// The product tree of a file: groups with their EMD type, class and product attributes,
/// datasets with shape, type and chunks.
std::string inspect_file(const std::string& path);

}  // namespace tmdflow::io
