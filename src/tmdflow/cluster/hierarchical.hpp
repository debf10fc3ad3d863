#pragma once
// Agglomerative clustering of a few hundred items (e.g. cluster means or diffraction motifs) from
// a full distance matrix, and the rotation-aware similarity of azimuthal profiles that such
// distances are often made of. Host code: the inputs are small and replicated.
#include <vector>

namespace tmdflow::cluster {

enum class Linkage { single, complete, average };

/// One merge, as in scipy.cluster.hierarchy.linkage: clusters a < b (leaves 0..m-1, the cluster
/// made by merge i is m + i) joined at `distance` into a cluster of `size` leaves.
struct Merge {
  int a, b;
  double distance;
  int size;
};

struct Dendrogram {
  int leaves = 0;
  std::vector<Merge> merges;  // m - 1 merges, distances non-decreasing
};

/// Lance-Williams agglomeration (Lance & Williams 1967) of m items with the symmetric m x m
/// row-major `distance` matrix: each step joins the closest pair (the first pair (i, j), i < j,
/// in row-major order among equals). O(m^3), meant for m up to a few hundred.
Dendrogram agglomerate(const std::vector<double>& distance, int m, Linkage linkage);

/// Flat clusters from the merges with distance <= threshold (the merges are in non-decreasing
/// order, so these are the first ones). Labels 0..c-1 are numbered by their first leaf.
std::vector<int> cut_at_distance(const Dendrogram& d, double threshold);

/// Flat clusters from the first m - clusters merges (1 <= clusters <= m), numbered by first leaf.
std::vector<int> cut_to_clusters(const Dendrogram& d, int clusters);

/// Rotation-aware similarity of circular azimuthal profiles: `rings` profiles of `bins` bins each,
/// concatenated (ring-major). b is shifted circularly by the same s bins in every ring:
///   b_s[r][i] = b[r][(i - s) mod bins],
/// and the Pearson correlation of a with b_s (over all rings and bins together) is maximised over
/// integer shifts |s| <= max_shift_bins (-1: all bins shifts, s in (-bins/2, bins/2]; the smallest s
/// wins a tie). `shift_bins` is that s refined by the vertex of the parabola through the
/// correlations at s-1, s, s+1 (at most half a bin away), so that b[i - shift] ~ a[i]: a profile a
/// that is b rotated forwards by 3.3 bins gives +3.3. `correlation` is the best integer-shift
/// correlation (0 when a or b is constant).
struct AzimuthalMatch {
  double correlation = 0;
  double shift_bins = 0;
};
AzimuthalMatch azimuthal_cross_correlation(const float* a, const float* b, int rings, int bins, int max_shift_bins = -1);

}  // namespace tmdflow::cluster
