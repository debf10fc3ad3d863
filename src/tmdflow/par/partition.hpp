#pragma once
// How work is split across ranks: contiguous blocks of a navigation extent (scan rows, images,
// frames) and 2-D tiles with halos (for sliding windows and stencils).
#include <cstdint>
#include <vector>

namespace tmdflow::par {

/// Half-open index range [begin, end).
struct Range {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t size() const { return end - begin; }
  bool empty() const { return end <= begin; }
  bool contains(std::int64_t i) const { return i >= begin && i < end; }
  friend bool operator==(const Range& a, const Range& b) { return a.begin == b.begin && a.end == b.end; }
};

/// Part `part` of `parts` contiguous blocks of [0, extent): the first extent % parts blocks get
/// one more element. With extent < parts the last parts are empty (begin == end == extent).
Range block_partition(std::int64_t extent, int parts, int part);

/// A tile of a 2-D grid: the `owned` region (tiles do not overlap and cover the grid) and the
/// `halo` region around it (owned grown by the halo width, clipped to the grid).
struct Tile {
  int index = 0;  // row-major tile index
  Range owned_y, owned_x;
  Range halo_y, halo_x;
};

/// Tiles of at most tile_y x tile_x owned pixels covering ny x nx, with halos of `halo` pixels.
std::vector<Tile> tile_grid(std::int64_t ny, std::int64_t nx, std::int64_t tile_y, std::int64_t tile_x,
                            std::int64_t halo);

/// The tiles a rank owns: a block partition of the tile list.
std::vector<Tile> tiles_of_rank(const std::vector<Tile>& tiles, int ranks, int rank);

}  // namespace tmdflow::par
