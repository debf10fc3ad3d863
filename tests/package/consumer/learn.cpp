// The installed tmdflow::learn (component learn): the sliding-window geometry of the inference
// runners, printed for the test to compare with numpy's reflect padding.
#include <cstdio>

#include "tmdflow/learn/window_grid.hpp"

int main() {
  std::printf("reflect");
  for (int i = -3; i < 13; ++i) std::printf(" %lld", static_cast<long long>(tmdflow::learn::reflect_index(i, 10)));
  std::printf("\n");
  tmdflow::learn::PatchWindows w;
  w.window_y = 5;
  w.window_x = 6;
  w.stride_y = 2;
  w.stride_x = 3;
  const tmdflow::learn::WindowGrid grid(w, 25, 19);
  std::printf("windows %lld %lld\n", static_cast<long long>(grid.map_rows()), static_cast<long long>(grid.map_cols()));
  return 0;
}
