#pragma once
// What the learned style translation (stage style-train, data_schema/style.md "Learned
// translation") decides and measures outside the networks: which simulations it trains on (TED-Gen's
// data selection with physical features: PCA of grey-level quantiles and radial power spectra, then
// k-means with K = 2, the simulations of the experiments' cluster nearest them), and how far a
// translation moved the atom columns of the image it re-rendered.
#include <cstdint>
#include <vector>

#include "tmdflow/analysis/style/power_spectrum.hpp"
#include "tmdflow/learn/style_translator.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::learn {

/// Edge handling of gaussian_blur.
enum class BlurEdge { zeros, replicate };

/// x (n, 1, H, W) blurred by a separable Gaussian of sigma_px (radius ceil(3 sigma)), the same size.
torch::Tensor gaussian_blur(const torch::Tensor& x, double sigma_px, BlurEdge edge);

/// Features of one image for the data selection: of its central side x side crop blurred by 0.3 A
/// (the lattice's look, not the noise's), 16 grey-level quantiles of the standardised crop (at
/// probabilities (q + 1/2) / 16) and its radially averaged power spectrum (log10, from `spectrum`,
/// planned for side x side at pixel_A).
std::vector<double> selection_features(const TrainingImage& image, std::int64_t side, double pixel_A, analysis::RadialSpectrum& spectrum);

struct StyleSelection {
  std::vector<std::vector<double>> coords;  // per item (simulations, then experiments): PCA coordinates (<= 2)
  std::vector<int> cluster;                 // per item: k-means cluster (0 or 1)
  std::vector<int> selected;                // per simulation: 1 when trained on
  std::vector<double> distance;             // per simulation: PCA distance to the experiments' centroid
  int experiment_cluster = 0;               // the cluster holding most experiments
};

struct StyleSelectionSpec {
  int select_min = 16, select_max = 32;  // simulations trained on: the cluster's, clamped to [min, max]
  double pixel_A = 0.1;                  // the images' pixel size
  std::uint64_t seed = 1;                // k-means
};

/// The data selection (every rank the same result; every rank holds every image): features of
/// each image (central crops of the smallest side, at most 256 px), each feature standardised over
/// all items, PCA to 2 components, k-means (K = 2, 4 restarts) on rank 0, labels broadcast. The
/// selected simulations: those of the experiments' cluster nearest to the experiments' centroid
/// first, at most select_max; the nearest others fill up to select_min.
StyleSelection select_for_style(const par::Comm& comm, const std::vector<TrainingImage>& simulations, const std::vector<TrainingImage>& experiments,
                                const StyleSelectionSpec& spec);

struct ColumnShift {
  double mean_A = 0, median_A = 0, p95_A = 0;  // over the matched columns
  std::int64_t columns = 0;      // columns of the reference away from the edges
  std::int64_t matched = 0;      // of them, those with a maximum of the image within reach
};

/// How far `image` moved the bright columns of `reference` (both H x W of pixel_A, any grey scale):
/// the maxima of both blurred by 0.3 A (replicated edges), at least 1.5 A apart; those of the
/// reference above its 90th percentile and 1 A from the edges, each matched to the nearest maximum
/// of the image above its 80th percentile within 1 A (sub-pixel maxima, analysis::dynamics::find_peaks).
ColumnShift column_shift(const std::vector<float>& reference, const std::vector<float>& image, std::int64_t H, std::int64_t W, double pixel_A);

}  // namespace tmdflow::learn
