#pragma once
// The patches, heat-map targets and labels/ of a detector trainset (make-defect-trainset,
// make-atoms-trainset; the trainset/1 layout that `train --target-map targets` reads): patches
// sharded over the ranks in blocks of 64, each made by `patch(index, image, maps)` (returning its
// labels), written collectively block by block with progress, interruption and fault points; then
// labels/ (label_table.hpp). The set does not depend on the rank count.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "label_table.hpp"
#include "stage.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"

namespace tmdflow::stages {

struct HeatmapTrainsetShape {
  std::int64_t count = 0, patch_px = 0, classes = 0;
  double pixel_A = 0;
  std::string patches_meaning, targets_meaning;
};

template <class Labels, class Patch>
void write_heatmap_trainset(const StageContext& ctx, const io::h5::Group& root, const HeatmapTrainsetShape& s, const std::string& progress_label,
                            Patch&& patch) {
  const std::int64_t P = s.patch_px, C = s.classes;
  root.set_attr("emd_group_type", "root");
  root.set_attr("python_class", "Root");
  io::emd::ArraySpec as{"patches", io::Dtype::f32, {s.count, P, P}, {{"patch", "index", 0.0, 1.0}, {"y", "A", 0.0, s.pixel_A}, {"x", "A", 0.0, s.pixel_A}},
                        "Array", s.patches_meaning, {1, P, P}};
  io::h5::Dataset patches = io::emd::create_array(root, as);
  io::emd::ArraySpec ts{"targets", io::Dtype::f32, {s.count, C, P, P},
                        {{"patch", "index", 0.0, 1.0}, {"class", "index", 0.0, 1.0}, {"y", "A", 0.0, s.pixel_A}, {"x", "A", 0.0, s.pixel_A}},
                        "Array", s.targets_meaning, {1, C, P, P}};
  io::h5::Dataset targets = io::emd::create_array(root, ts);
  const par::Range mine = par::block_partition(s.count, ctx.comm.size(), ctx.comm.rank());
  const std::int64_t most = ctx.comm.allreduce(mine.size(), par::Op::max);
  constexpr std::int64_t block = 64;
  const std::size_t npix = std::size_t(P * P);
  std::vector<float> images(std::size_t(block) * npix), maps(std::size_t(block * C) * npix);
  std::vector<Labels> labels(std::size_t(std::max<std::int64_t>(mine.size(), 0)));
  par::Progress progress(ctx.comm, progress_label, std::uint64_t(s.count), "patches");
  for (std::int64_t b0 = 0; b0 < most; b0 += block) {
    const std::int64_t n = std::clamp<std::int64_t>(mine.size() - b0, 0, block);
    par::collectively(ctx.comm, [&] {
      for (std::int64_t k = 0; k < n; ++k)
        labels[std::size_t(b0 + k)] = patch(mine.begin + b0 + k, images.data() + std::size_t(k) * npix, maps.data() + std::size_t(k * C) * npix);
    });
    par::interruption_point(ctx.comm);
    par::inject_fault(ctx.comm, "block-write");
    patches.write<float>(io::h5::Shape{n > 0 ? mine.begin + b0 : 0, 0, 0}, io::h5::Shape{n, P, P}, images.data());
    targets.write<float>(io::h5::Shape{n > 0 ? mine.begin + b0 : 0, 0, 0, 0}, io::h5::Shape{n, C, P, P}, maps.data());
    progress.advance(std::uint64_t(n));
  }
  progress.finish();
  write_label_table(root, labels, s.count, mine);
}

}  // namespace tmdflow::stages
