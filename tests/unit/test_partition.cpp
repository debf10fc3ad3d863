#include <gtest/gtest.h>

#include <set>

#include "tmdflow/par/partition.hpp"

using tmdflow::par::block_partition;
using tmdflow::par::Range;

TEST(BlockPartition, CoversExtentWithoutOverlapAndBalances) {
  for (std::int64_t extent : {0, 1, 2, 5, 7, 64, 1001}) {
    for (int parts : {1, 2, 3, 4, 8, 13}) {
      std::int64_t next = 0, smallest = extent, largest = 0;
      for (int p = 0; p < parts; ++p) {
        Range r = block_partition(extent, parts, p);
        EXPECT_EQ(r.begin, next) << extent << " over " << parts << ", part " << p;
        EXPECT_GE(r.end, r.begin);
        next = r.end;
        smallest = std::min(smallest, r.size());
        largest = std::max(largest, r.size());
      }
      EXPECT_EQ(next, extent);
      EXPECT_LE(largest - smallest, 1) << extent << " over " << parts;
    }
  }
}

TEST(BlockPartition, UnevenSplitGivesTheFirstPartsOneMore) {
  EXPECT_EQ(block_partition(7, 3, 0), (Range{0, 3}));
  EXPECT_EQ(block_partition(7, 3, 1), (Range{3, 5}));
  EXPECT_EQ(block_partition(7, 3, 2), (Range{5, 7}));
}

TEST(BlockPartition, ExtentSmallerThanPartsLeavesTrailingPartsEmpty) {
  EXPECT_EQ(block_partition(2, 4, 0), (Range{0, 1}));
  EXPECT_EQ(block_partition(2, 4, 1), (Range{1, 2}));
  EXPECT_TRUE(block_partition(2, 4, 2).empty());
  EXPECT_TRUE(block_partition(2, 4, 3).empty());
  EXPECT_EQ(block_partition(2, 4, 3).begin, 2);
}

TEST(TileGrid, OwnedTilesCoverEveryPixelOnceAndHalosAreClipped) {
  const std::int64_t ny = 37, nx = 50, halo = 4;
  auto tiles = tmdflow::par::tile_grid(ny, nx, 16, 16, halo);
  EXPECT_EQ(tiles.size(), 3u * 4u);
  std::vector<int> hits(ny * nx, 0);
  for (const auto& t : tiles) {
    for (auto y = t.owned_y.begin; y < t.owned_y.end; ++y)
      for (auto x = t.owned_x.begin; x < t.owned_x.end; ++x) ++hits[y * nx + x];
    EXPECT_EQ(t.halo_y.begin, std::max<std::int64_t>(0, t.owned_y.begin - halo));
    EXPECT_EQ(t.halo_y.end, std::min<std::int64_t>(ny, t.owned_y.end + halo));
    EXPECT_EQ(t.halo_x.begin, std::max<std::int64_t>(0, t.owned_x.begin - halo));
    EXPECT_EQ(t.halo_x.end, std::min<std::int64_t>(nx, t.owned_x.end + halo));
  }
  for (int h : hits) ASSERT_EQ(h, 1);
}

TEST(TileGrid, TilesOfRanksPartitionTheTileList) {
  auto tiles = tmdflow::par::tile_grid(10, 10, 3, 3, 1);  // 16 tiles
  std::set<int> seen;
  for (int r = 0; r < 3; ++r)
    for (const auto& t : tmdflow::par::tiles_of_rank(tiles, 3, r)) EXPECT_TRUE(seen.insert(t.index).second);
  EXPECT_EQ(seen.size(), tiles.size());
  EXPECT_TRUE(tmdflow::par::tiles_of_rank(tmdflow::par::tile_grid(2, 2, 2, 2, 0), 3, 2).empty());
}
