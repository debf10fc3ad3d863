#pragma once
// How alike two images' grey levels are (data_schema/style.md, "Measures"): the grey scale both are
// compared on, their grey-level histograms and the Kullback-Leibler divergence between them, and
// the mean roughness Ra of their intensity line profiles (Huang et al., Nat. Commun. 2025, compare
// 8-bit images this way: KL 0.5 for a noise-free simulation, 0.01 after their translation).
#include <cstddef>
#include <vector>

namespace tmdflow::analysis {

/// The grey scale of an experiment, on which simulations are compared with it. An 8-bit image
/// (whole values in 0..255) keeps its levels: one histogram bin per level, and a simulation mapped
/// onto it is rounded to whole levels and clipped to 0..255, as an 8-bit export would. Any other
/// image: 256 equal bins between its 0.1 % and 99.9 % quantiles, values clipped to them.
struct GreyScale {
  double lo = 0, hi = 255;        // the stored range: values are clipped to it
  int bins = 256;                 // equal bins over [lo - step/2, hi + step/2] on an integer scale, else [lo, hi]
  bool integer_levels = true;     // whole grey levels (an 8-bit image)
  double width() const { return hi - lo; }
  /// Bin of a value (clipped to the end bins).
  int bin(double v) const;
  /// The value clipped to [lo, hi] (and rounded on an integer scale).
  double stored(double v) const;
};

/// The scale of these images (all frames of one experiment), by the rule above.
GreyScale grey_scale_of(const std::vector<const float*>& images, std::size_t pixels_each);

/// Counts of the values in the scale's bins.
std::vector<double> grey_histogram(const float* values, std::size_t n, const GreyScale& scale);

/// KL(P || Q) = sum_k p_k ln(p_k / q_k) in nats, p and q the histograms (counts) normalised after
/// adding `pseudo_count` to every bin (Jeffreys' 1/2: a level the simulation never reaches costs a
/// finite amount). Throws InputError when the histograms differ in length.
double kl_divergence(const std::vector<double>& p_counts, const std::vector<double>& q_counts, double pseudo_count = 0.5);

/// Mean roughness Ra of the intensity line profiles: every row and every column of the (stored)
/// image is a profile z; Ra of a profile is the mean absolute deviation of z from its mean divided
/// by its range max z - min z (the profile normalised to [0, 1]); Ra of the image is the mean over
/// all profiles (flat profiles left out), 0 <= Ra <= 0.5. Gain and offset drop out; noise widens
/// the range and lowers Ra (the paper: noise-free simulation 0.25, experiment 0.18).
double line_roughness(const float* image, int ny, int nx, const GreyScale& scale);

}  // namespace tmdflow::analysis
