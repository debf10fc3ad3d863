#pragma once
// The labels/ group of a training-set product (trainset/1 and defect_trainset/1, data_schema/
// training.md): one float64 dataset per field of the patch labels, with `units` and `description`
// attributes; every rank writes its block of rows (collective).
#include <cstdint>
#include <vector>

#include "tmdflow/io/h5.hpp"
#include "tmdflow/par/partition.hpp"

namespace tmdflow::stages {

/// `Labels` has a static fields() listing {name, member pointer to double, units, description};
/// `labels` are this rank's rows, `mine` their global range of the `count` patches.
template <class Labels>
void write_label_table(const io::h5::Group& root, const std::vector<Labels>& labels, std::int64_t count, const par::Range& mine) {
  io::h5::Group lg = root.create_group("labels");
  for (const auto& field : Labels::fields()) {
    io::h5::Dataset d = lg.create_dataset(field.name, io::Dtype::f64, {count});
    d.set_attr("units", field.units);
    d.set_attr("description", field.description);
    std::vector<double> v(labels.size());
    for (std::size_t k = 0; k < labels.size(); ++k) v[k] = labels[k].*(field.member);
    d.write<double>(io::h5::Shape{mine.size() > 0 ? mine.begin : 0}, io::h5::Shape{mine.size()}, v.data());
  }
}

}  // namespace tmdflow::stages
