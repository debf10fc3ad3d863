#include "tmdflow/par/partition.hpp"

#include <algorithm>

#include "tmdflow/core/error.hpp"

namespace tmdflow::par {

Range block_partition(std::int64_t extent, int parts, int part) {
  if (extent < 0 || parts <= 0 || part < 0 || part >= parts)
    throw Error("block_partition: invalid arguments (extent " + std::to_string(extent) + ", parts " +
                    std::to_string(parts) + ", part " + std::to_string(part) + ")",
                ExitCode::failure);
  const std::int64_t base = extent / parts;
  const std::int64_t rem = extent % parts;
  const std::int64_t begin = part * base + std::min<std::int64_t>(part, rem);
  const std::int64_t size = base + (part < rem ? 1 : 0);
  return {begin, begin + size};
}

std::vector<Tile> tile_grid(std::int64_t ny, std::int64_t nx, std::int64_t tile_y, std::int64_t tile_x,
                            std::int64_t halo) {
  if (ny <= 0 || nx <= 0 || tile_y <= 0 || tile_x <= 0 || halo < 0)
    throw Error("tile_grid: invalid arguments", ExitCode::failure);
  std::vector<Tile> tiles;
  int index = 0;
  for (std::int64_t y0 = 0; y0 < ny; y0 += tile_y) {
    for (std::int64_t x0 = 0; x0 < nx; x0 += tile_x) {
      Tile t;
      t.index = index++;
      t.owned_y = {y0, std::min(ny, y0 + tile_y)};
      t.owned_x = {x0, std::min(nx, x0 + tile_x)};
      t.halo_y = {std::max<std::int64_t>(0, y0 - halo), std::min(ny, t.owned_y.end + halo)};
      t.halo_x = {std::max<std::int64_t>(0, x0 - halo), std::min(nx, t.owned_x.end + halo)};
      tiles.push_back(t);
    }
  }
  return tiles;
}

std::vector<Tile> tiles_of_rank(const std::vector<Tile>& tiles, int ranks, int rank) {
  const Range r = block_partition(std::int64_t(tiles.size()), ranks, rank);
  return {tiles.begin() + r.begin, tiles.begin() + r.end};
}

}  // namespace tmdflow::par
