#pragma once
// On-the-fly augmentation of training samples. Every draw is keyed by (seed, epoch, the sample's
// global index), so a sample is augmented identically whatever the rank count and whichever rank
// reads it, and a resumed run repeats the draws of an uninterrupted one.
//
// Order: dihedral transform, scale, crop (geometry, applied to map targets too), then blur,
// contamination, vacancy-like dropouts, masks and noise (the image only).
#include <cstdint>
#include <functional>
#include <vector>

#include "tmdflow/learn/sample.hpp"

namespace tmdflow::learn {

/// An element of the dihedral group of the square: first a mirror of x (when `flip`), then
/// `rotations` quarter turns as numpy.rot90 does on (y, x) arrays: the pixel at (y, x) goes to
/// (W-1-x, y).
struct Dihedral {
  int rotations = 0;  // 0..3
  bool flip = false;
  bool identity() const { return rotations == 0 && !flip; }
  /// Where an in-plane displacement (dx, dy) in pixel axes goes (x the last array axis).
  void map_vector(double& dx, double& dy) const;
};

/// Applies the transform to a (channels, height, width) array; swaps height and width on odd
/// rotations.
std::vector<float> apply_dihedral(const Dihedral& d, const std::vector<float>& image, std::int64_t channels,
                                  std::int64_t& height, std::int64_t& width);

struct AugmentOptions {
  /// A random element of the dihedral group (only the 4 that keep the shape when H != W).
  bool dihedral = false;
  /// Transforms a values target under a dihedral transform (map targets are transformed with
  /// the image automatically). Without it, values targets are left as they are: right only for
  /// labels that the symmetry does not change.
  std::function<void(const Dihedral&, std::vector<float>& target)> transform_target;

  /// Scale by a factor uniform in [scale_min, scale_max] about the centre, keeping the size
  /// (bilinear for the image, nearest for maps).
  double scale_min = 1.0, scale_max = 1.0;
  /// A random crop_px x crop_px window (0: none).
  std::int64_t crop_px = 0;

  /// Gaussian blur with sigma uniform in [0, blur_sigma_max_px], with this probability.
  double blur_probability = 0.0, blur_sigma_max_px = 1.0;
  /// Up to `contamination_max` smooth bright blobs (Gaussian, sigma in [min, max] pixels,
  /// amplitude up to `contamination_amplitude` of the image's range).
  int contamination_max = 0;
  double contamination_sigma_min_px = 3.0, contamination_sigma_max_px = 10.0, contamination_amplitude = 0.3;
  /// Up to `vacancies_max` small dark spots (Gaussian dips of `vacancy_sigma_px` that remove up
  /// to `vacancy_depth` of the signal above the minimum).
  int vacancies_max = 0;
  double vacancy_sigma_px = 1.0, vacancy_depth = 0.7;
  /// A rectangle of side fraction in [mask_fraction_min, mask_fraction_max] filled with the
  /// image mean, with this probability.
  double mask_probability = 0.0, mask_fraction_min = 0.1, mask_fraction_max = 0.3;
  /// Noise down to a PSNR uniform in [psnr_min_db, psnr_max_db] (peak = the image's range), with
  /// this probability: Poisson (counts at the peak = 10^(PSNR/10)) with probability
  /// poisson_fraction, else Gaussian (sigma = range / 10^(PSNR/20)).
  double noise_probability = 0.0, psnr_min_db = 15.0, psnr_max_db = 40.0, poisson_fraction = 0.5;

  bool any() const;
  /// ConfigError naming the field for impossible values.
  void validate() const;
};

/// Augments one sample in place, keyed by (seed, epoch, sample.index).
void augment(Sample& sample, const AugmentOptions& options, std::uint64_t seed, std::int64_t epoch);

}  // namespace tmdflow::learn
