#pragma once
// A learned translation of simulated ADF-STEM images into the style of experimental ones (stages
// style-train / style-translate, data_schema/style.md "Learned translation"), after TED-Gen's
// Trident-enhanced DRIT (Huang et al., Nat. Commun. 2025; Lee et al., ECCV 2018): a content
// encoder shared by both domains, an attribute encoder and a generator per domain, patch
// discriminators per domain and a content discriminator, cross-cycle and self reconstruction, and
// a content-consistency loss between each image and its translation so that atoms do not move.
// Sized for CPUs: the encoders work at a quarter of the resolution, and each generator sees the
// image it re-renders through a skip connection (it starts as the identity and learns the
// difference: noise, blur, contrast), with per-pixel noise injected at half and full resolution
// (a deterministic generator cannot draw shot noise; StyleGAN's noise inputs can).
//
// The shipped network (family "style-translator") is the simulation -> experiment path alone: the
// content encoder, the experiment generator and the experiments' mean attribute code (a buffer).
// Images are standardised (mean 0, sd 1) on the way in and out; any size that is a multiple of 4.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tmdflow/learn/network.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::learn {

struct TranslatorSizes {
  std::int64_t base = 8;        // channels at full resolution (generator's last layer)
  std::int64_t content = 32;    // channels of the content map (1/4 resolution)
  std::int64_t attribute = 8;   // length of the attribute code
  std::int64_t tone = 0;        // knots of the output's tone curve (0: none; style-train: 64)
  static TranslatorSizes from(const NetworkSpec& spec);
  void to(NetworkSpec& spec) const;
};

/// image (n, 1, H, W) -> content map (n, content, H/4, W/4).
class ContentEncoderImpl : public torch::nn::Module {
 public:
  explicit ContentEncoderImpl(const TranslatorSizes& s);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d c1_{nullptr}, c2_{nullptr}, r1_{nullptr}, r2_{nullptr};
  torch::nn::InstanceNorm2d n2_{nullptr}, nr1_{nullptr}, nr2_{nullptr};
};
TORCH_MODULE(ContentEncoder);

/// image -> attribute code (n, attribute): strided convolutions without normalisation (the
/// statistics of the image are its style), global average, linear.
class AttributeEncoderImpl : public torch::nn::Module {
 public:
  explicit AttributeEncoderImpl(const TranslatorSizes& s);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d c1_{nullptr}, c2_{nullptr}, c3_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(AttributeEncoder);

/// (content, code, the image being re-rendered, two noise maps) -> image. Output = skip + a learned
/// residual; the residual's last layer starts at zero (identity at the start of training).
class GeneratorImpl : public torch::nn::Module {
 public:
  explicit GeneratorImpl(const TranslatorSizes& s);
  /// noise_half (n, 1, H/2, W/2), noise_full (n, 1, H, W): standard normal draws.
  torch::Tensor forward(const torch::Tensor& content, const torch::Tensor& code, const torch::Tensor& skip, const torch::Tensor& noise_half,
                        const torch::Tensor& noise_full);

 private:
  TranslatorSizes s_;
  torch::nn::Conv2d g1_{nullptr}, g2_{nullptr}, g3_{nullptr}, out_{nullptr};
  torch::nn::InstanceNorm2d n1_{nullptr}, n2_{nullptr}, n3_{nullptr};
  torch::nn::Linear noise_half_{nullptr}, noise_full_{nullptr};  // code -> per-channel noise strength
};
TORCH_MODULE(Generator);

/// PatchGAN discriminator: (n, 1, H, W) -> (n, 1, H/8, W/8) scores (least-squares GAN).
class PatchDiscriminatorImpl : public torch::nn::Module {
 public:
  explicit PatchDiscriminatorImpl(std::int64_t base);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential net_{nullptr};
};
TORCH_MODULE(PatchDiscriminator);

/// Content discriminator: content map -> (n, 1) score of "from the simulations".
class ContentDiscriminatorImpl : public torch::nn::Module {
 public:
  explicit ContentDiscriminatorImpl(std::int64_t channels);
  torch::Tensor forward(const torch::Tensor& c);

 private:
  torch::nn::Conv2d c1_{nullptr}, c2_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(ContentDiscriminator);

/// The shipped translator: simulation -> experiment style. forward(x) standardises each image,
/// translates it with the stored code and noise from torch's global generator, and returns the
/// standardised translation; translate() takes the noise explicitly (reproducible per image).
/// With tone=K > 0 the standardised output passes through a monotone tone curve of K segments
/// (the detector's and exporter's grey-level response: piecewise linear between the knots
/// tone_from -> tone_to, extended linearly beyond the ends, fitted by fit_translator as the quantile
/// map from translated simulations to the experiments) and is standardised again; tone=0 (models
/// made before the curve existed) has none.
/// Spec: family "style-translator"; base=8 content=32 attribute=8 [tone=K].
class StyleTranslator : public Network {
 public:
  explicit StyleTranslator(const NetworkSpec& spec);
  torch::Tensor forward(torch::Tensor x) override;
  NetworkSpec spec() const override { return spec_; }
  torch::Tensor translate(const torch::Tensor& x, const torch::Tensor& noise_half, const torch::Tensor& noise_full);
  /// The experiments' mean attribute code (1, attribute), set by training.
  torch::Tensor& code() { return code_; }
  /// The tone curve's knots (tone + 1 each; undefined tensors when tone = 0).
  torch::Tensor& tone_from() { return tone_from_; }
  torch::Tensor& tone_to() { return tone_to_; }
  ContentEncoder& encoder() { return encoder_; }
  Generator& generator() { return generator_; }

 private:
  NetworkSpec spec_;
  TranslatorSizes sizes_;
  ContentEncoder encoder_{nullptr};
  Generator generator_{nullptr};
  torch::Tensor code_, tone_from_, tone_to_;
};

/// The monotone piecewise-linear map of x through the knots from -> to (both increasing, same
/// length >= 2), extended linearly beyond the first and last segments.
torch::Tensor apply_tone_curve(const torch::Tensor& x, const torch::Tensor& from, const torch::Tensor& to);

/// Each image of (n, 1, H, W) to mean 0 and sd 1.
torch::Tensor standardise(const torch::Tensor& x);

/// An image held in memory for training (row-major, any size); crops are cut from it.
struct TrainingImage {
  std::vector<float> pixels;
  std::int64_t ny = 0, nx = 0;
};

struct TranslatorFit {
  std::int64_t crop = 256;        // crops of crop x crop pixels (a multiple of 8)
  std::int64_t batch = 4;         // global batch of each domain per step
  std::int64_t steps = 1500;
  double learning_rate = 2e-4;    // Adam (0.5, 0.999), as DRIT
  double max_rotation_deg = 45;   // affine augmentation: rotation, flips, scale +-scale_jitter
  double scale_jitter = 0.1;
  // Weights of the generators' losses (the adversarial term has weight 1). DRIT's reconstruction
  // weights of 10 pin a generator with a skip to the identity: a blur is a change of the low-pass
  // image too, which the reconstruction and consistency terms compare (style_translator.cpp).
  double weight_cycle = 2, weight_self = 1, weight_content_consistency = 2, weight_content_adversarial = 1,
         weight_quantile = 5, weight_code = 0.01;
  double consistency_sigma_px = 3;  // the consistency loss compares images blurred by this Gaussian
  std::uint64_t seed = 1;
  std::string progress_label = "style-train";
};

struct TranslatorLog {
  std::vector<double> step;  // one row per logged step (every log_every)
  std::vector<double> loss_d, loss_adversarial, loss_cycle, loss_consistency, loss_quantile;
  double seconds = 0;
};

/// Trains the translator (and the training-only parts, discarded) data-parallel over the ranks:
/// every rank holds every image and draws its own share of the batch (keyed by seed, step and
/// rank), one gradient allreduce per step for the generators' side and one for the
/// discriminators'. At the end the translator's code is the mean code of `experiments` crops and,
/// with a tone curve, its knots are the quantiles (probabilities evenly spaced from 0.05 % to
/// 99.95 %) of translated simulation crops (tone_from) and of the experiments' crops (tone_to).
/// Deterministic for a seed and rank count. `on_log` (rank 0) is called every `log_every` steps.
TranslatorLog fit_translator(const par::Comm& comm, StyleTranslator& translator, const std::vector<TrainingImage>& simulations,
                             const std::vector<TrainingImage>& experiments, const TranslatorFit& options, std::int64_t log_every = 50,
                             const std::function<void(std::int64_t, const TranslatorLog&)>& on_log = {});

/// Standard normal noise maps for images index0 .. index0 + n - 1 of size H x W, each keyed by
/// (seed, index): a translation is the same whatever the batch or rank that makes it.
std::pair<torch::Tensor, torch::Tensor> translation_noise(std::uint64_t seed, std::int64_t index0, std::int64_t n, std::int64_t H, std::int64_t W);

/// (n, c, H, W) to (n, c, h, w): area averages when both sides shrink, bicubic otherwise.
torch::Tensor resample(const torch::Tensor& x, std::int64_t h, std::int64_t w);

/// The side, in pixels at the translator's pixel size, of `side` pixels of `pixel_A`: rounded to a
/// multiple of 4 (at least 4), as translate_at resamples.
std::int64_t translator_side(std::int64_t side, double pixel_A, double translator_pixel_A);

/// Images (n, 1, H, W) of `pixel_A` translated at the translator's pixel size: resampled to sides
/// round(side * pixel_A / translator_pixel_A) rounded to a multiple of 4, translated with the noise
/// of images index0 .. index0 + n - 1 (translation_noise), resampled back to H x W; standardised.
torch::Tensor translate_at(StyleTranslator& translator, const torch::Tensor& x, double pixel_A, double translator_pixel_A, std::uint64_t seed,
                           std::int64_t index0);

}  // namespace tmdflow::learn
