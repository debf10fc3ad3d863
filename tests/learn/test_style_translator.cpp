// The learned style translator (learn/style_translator.hpp): an untrained translator is the
// identity (its generator re-renders its input through the skip, the residual starts at zero);
// the translation noise is keyed by image index, not by batch; the model round-trips through a
// model file with its code; and a short data-parallel training on a clean lattice (simulations)
// and a blurred, noisy, offset one (experiments) moves the grey-level distribution of the
// translated simulations towards the experiments' while the atoms stay where they were, with
// identical weights on every rank.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/testing.hpp"
#include "tmdflow/analysis/dynamics/peaks.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/analysis/style/grey_measures.hpp"
#include "tmdflow/learn/data_parallel.hpp"
#include "tmdflow/learn/model_file.hpp"
#include "tmdflow/learn/style_translator.hpp"
#include "tmdflow/par/runtime.hpp"

namespace learn = tmdflow::learn;
using tmdflow::par::Runtime;

namespace {

learn::NetworkSpec small_spec(int tone = 0) {
  learn::NetworkSpec s{"style-translator", {{"base", "4"}, {"content", "8"}, {"attribute", "4"}}};
  if (tone > 0) s.params["tone"] = std::to_string(tone);
  return s;
}

// A hexagonal lattice (spacing 6 px) of Gaussian columns of sigma 1 px, shifted by (dx, dy); an
// "experiment" is blurred to sigma 1.6 px, lifted by a background, with Poisson-like noise.
learn::TrainingImage lattice(std::int64_t n, double dx, double dy, bool experiment, std::uint64_t seed) {
  learn::TrainingImage im;
  im.ny = im.nx = n;
  im.pixels.assign(std::size_t(n * n), 0.f);
  const double a = 6, s = experiment ? 1.6 : 1.0;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0, 1);
  for (std::int64_t y = 0; y < n; ++y)
    for (std::int64_t x = 0; x < n; ++x) {
      double v = 0;
      for (int j = -2; j < n / 5 + 3; ++j)
        for (int i = -2; i < n / 6 + 3; ++i) {
          const double cy = dy + j * a * std::sqrt(3.0) / 2, cx = dx + i * a + (j % 2 ? a / 2 : 0);
          const double r2 = (y - cy) * (y - cy) + (x - cx) * (x - cx);
          if (r2 < 64) v += std::exp(-r2 / (2 * s * s));
        }
      if (experiment) v = 0.3 + v + 0.25 * std::sqrt(0.3 + v) * g(rng);
      im.pixels[std::size_t(y * n + x)] = float(v);
    }
  return im;
}

std::vector<float> values(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

// KL of two standardised images' histograms on a common scale of 64 bins over [-4, 4].
double kl(const std::vector<float>& reference, const std::vector<float>& other) {
  tmdflow::analysis::GreyScale s;
  s.lo = -4, s.hi = 4, s.bins = 64, s.integer_levels = false;
  return tmdflow::analysis::kl_divergence(tmdflow::analysis::grey_histogram(reference.data(), reference.size(), s),
                                          tmdflow::analysis::grey_histogram(other.data(), other.size(), s));
}

std::vector<tmdflow::analysis::dynamics::Peak> columns(const std::vector<float>& v, std::int64_t n) {
  tmdflow::analysis::dynamics::PeakSpec ps;
  ps.threshold = 0.5f;
  ps.min_distance_px = 3;
  return tmdflow::analysis::dynamics::find_peaks(v.data(), n, n, 0, ps);
}

}  // namespace

TEST(StyleTranslator, UntrainedIsTheIdentityAndNoiseIsKeyedByIndex) {
  learn::StyleTranslator tr(small_spec());
  const torch::Tensor x = torch::rand({3, 1, 32, 40}) * 5 + 2;
  const auto [nh, nf] = learn::translation_noise(7, 10, 3, 32, 40);
  EXPECT_TRUE(torch::allclose(tr.translate(x, nh, nf), learn::standardise(x), 1e-5, 1e-5));
  // image 11's noise is the same alone or in a batch, and differs from image 10's
  const auto [h1, f1] = learn::translation_noise(7, 11, 1, 32, 40);
  EXPECT_TRUE(torch::equal(f1[0], nf[1]));
  EXPECT_FALSE(torch::equal(nf[0], nf[1]));
  EXPECT_THROW(tr.translate(torch::rand({1, 1, 30, 40}), nh, nf), tmdflow::InputError);
  // resample: area averages when shrinking (a 2x2 block mean), sizes exact
  const torch::Tensor r = learn::resample(torch::arange(16, torch::kFloat32).view({1, 1, 4, 4}), 2, 2);
  EXPECT_FLOAT_EQ(r[0][0][0][0].item<float>(), (0 + 1 + 4 + 5) / 4.0f);
  EXPECT_EQ(learn::resample(x, 64, 80).sizes(), (std::vector<std::int64_t>{3, 1, 64, 80}));
  // translator_side: multiples of 4, at least 4 (776 px of 0.0435 A are 337.6 px of 0.1 A -> 336)
  EXPECT_EQ(learn::translator_side(776, 0.0435, 0.1), 336);
  EXPECT_EQ(learn::translator_side(96, 0.2, 0.1), 192);
  EXPECT_EQ(learn::translator_side(3, 0.1, 0.1), 4);
}

TEST(StyleTranslator, ToneCurveIsMonotonePiecewiseLinear) {
  const torch::Tensor from = torch::tensor({0.f, 1.f, 2.f}), to = torch::tensor({0.f, 2.f, 3.f});
  const torch::Tensor x = torch::tensor({-1.f, 0.f, 0.5f, 1.f, 1.5f, 2.f, 3.f}).view({1, 1, 1, 7});
  const torch::Tensor y = learn::apply_tone_curve(x, from, to);
  EXPECT_EQ(y.sizes(), x.sizes());
  const std::vector<float> want = {-2.f, 0.f, 1.f, 2.f, 2.5f, 3.f, 4.f};  // slopes 2 and 1 extended beyond the ends
  for (int k = 0; k < 7; ++k) EXPECT_NEAR(y[0][0][0][k].item<float>(), want[std::size_t(k)], 1e-6) << "x = " << x[0][0][0][k].item<float>();
  // A new translator's curve is the identity; tone=1 is refused.
  learn::StyleTranslator tr(small_spec(8));
  const torch::Tensor z = torch::randn({2, 1, 16, 16});
  const auto [nh, nf] = learn::translation_noise(1, 0, 2, 16, 16);
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::allclose(tr.translate(z, nh, nf), learn::standardise(z), 1e-5, 1e-5));
  EXPECT_THROW(learn::StyleTranslator(small_spec(1)), tmdflow::ConfigError);
}

TEST(StyleTranslator, ModelFileKeepsTheCode) {
  tmdflow::testing::ScratchDir dir;
  learn::StyleTranslator tr(small_spec(8));
  {
    torch::NoGradGuard g;
    tr.code().copy_(torch::tensor({{0.5f, -1.f, 2.f, 0.25f}}));
    tr.tone_to().copy_(tr.tone_to().pow(3));
    for (auto& p : tr.parameters()) p.add_(0.01 * torch::randn_like(p));
  }
  const std::string folder = dir.path() + "/translator-r" + std::to_string(Runtime::world_comm().rank());
  tmdflow::io::ModelManifest m;
  m.name = "translator-test";
  m.pixel_size_A = 0.1;
  learn::save_model(tr, m, folder);
  const learn::LoadedModel loaded = learn::load_model(folder);
  auto* back = dynamic_cast<learn::StyleTranslator*>(loaded.network.get());
  ASSERT_NE(back, nullptr);
  EXPECT_TRUE(torch::equal(back->code(), tr.code()));
  EXPECT_TRUE(torch::equal(back->tone_to(), tr.tone_to()));
  EXPECT_EQ(back->spec().params.at("tone"), "8");
  const torch::Tensor x = torch::rand({2, 1, 16, 16});
  const auto [nh, nf] = learn::translation_noise(1, 0, 2, 16, 16);
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::allclose(back->translate(x, nh, nf), tr.translate(x, nh, nf), 1e-5, 1e-5));
}

TEST(StyleTranslator, TrainingMovesTheGreyLevelsNotTheAtoms) {
  const auto& comm = Runtime::world_comm();
  std::vector<learn::TrainingImage> sims, exps;
  for (int k = 0; k < 4; ++k) sims.push_back(lattice(96, 0.7 * k, 1.3 * k, false, 10 + k));
  for (int k = 0; k < 2; ++k) exps.push_back(lattice(96, 2.1 * k + 0.4, 0.9 * k, true, 20 + k));
  learn::StyleTranslator tr(small_spec(16));
  learn::TranslatorFit o;
  o.crop = 48, o.batch = 4, o.steps = 150, o.learning_rate = 2e-3, o.max_rotation_deg = 45, o.seed = 3;
  o.consistency_sigma_px = 1.5;

  o.progress_label = "";
  const learn::TranslatorLog log = learn::fit_translator(comm, tr, sims, exps, o, 50);
  ASSERT_EQ(log.step.size(), 3u);
  EXPECT_LT(log.loss_quantile.back(), 0.8 * log.loss_quantile.front()) << "the grey-level quantile loss went down";
  tr.eval();
  // Every rank holds the same weights.
  const torch::Tensor flat = learn::flatten_tensors(tr.parameters());
  const double sum = flat.sum().item<double>(), sum_all = comm.allreduce(sum, tmdflow::par::Op::sum);
  EXPECT_NEAR(sum * comm.size(), sum_all, 1e-6 * std::max(1.0, std::fabs(sum_all)));

  // A fresh simulation and experiment of another lattice position.
  const learn::TrainingImage s = lattice(64, 1.9, 2.6, false, 99), e = lattice(64, 0.2, 4.1, true, 98);
  const torch::Tensor x = torch::from_blob(const_cast<float*>(s.pixels.data()), {1, 1, 64, 64}).clone();
  const torch::Tensor y = torch::from_blob(const_cast<float*>(e.pixels.data()), {1, 1, 64, 64}).clone();
  torch::NoGradGuard guard;
  const auto [nh, nf] = learn::translation_noise(5, 0, 1, 64, 64);
  const std::vector<float> u = values(tr.translate(x, nh, nf)), xs = values(learn::standardise(x)), ys = values(learn::standardise(y));
  const double kl_before = kl(ys, xs), kl_after = kl(ys, u);
  EXPECT_LT(kl_after, 0.7 * kl_before) << "KL experiment vs simulation " << kl_before << ", vs translation " << kl_after;
  // The fitted tone curve is increasing and brings the grey levels closer than the network alone:
  // the 1-D Wasserstein distance between the pooled grey levels of six fresh translations and six
  // fresh experiments.
  const torch::Tensor knots_to = tr.tone_to().clone();
  EXPECT_TRUE((tr.tone_from().slice(0, 1) > tr.tone_from().slice(0, 0, -1)).all().item<bool>());
  EXPECT_TRUE((knots_to.slice(0, 1) >= knots_to.slice(0, 0, -1)).all().item<bool>());
  std::vector<torch::Tensor> fresh_s, fresh_e;
  for (int k = 0; k < 6; ++k) {
    const learn::TrainingImage a = lattice(64, 0.9 * k, 2.2 * k, false, 200 + k), b = lattice(64, 1.7 * k, 0.3 * k, true, 300 + k);
    fresh_s.push_back(torch::from_blob(const_cast<float*>(a.pixels.data()), {1, 1, 64, 64}).clone());
    fresh_e.push_back(learn::standardise(torch::from_blob(const_cast<float*>(b.pixels.data()), {1, 1, 64, 64}).clone()));
  }
  const torch::Tensor xs6 = torch::cat(fresh_s), ys6 = std::get<0>(torch::cat(fresh_e).flatten().sort());
  const auto [nh6, nf6] = learn::translation_noise(5, 1, 6, 64, 64);
  auto w1 = [&] { return (std::get<0>(tr.translate(xs6, nh6, nf6).flatten().sort()) - ys6).abs().mean().item<double>(); };
  const double w1_tone = w1();
  tr.tone_to().copy_(tr.tone_from());
  const double w1_network = w1();
  tr.tone_to().copy_(knots_to);
  EXPECT_LT(w1_tone, 0.95 * w1_network) << "grey-level distance with the tone curve " << w1_tone << ", network alone " << w1_network;
  // Columns of the translation (lightly smoothed: it is noisy) sit on the simulation's.
  const std::vector<float> us = values(learn::standardise(torch::avg_pool2d(tr.translate(x, nh, nf), 3, 1, 1, false, false)));
  const auto pa = columns(xs, 64), pb = columns(us, 64);
  ASSERT_GT(pa.size(), 40u);
  int near = 0, counted = 0;
  for (const auto& a : pa) {
    if (a.x < 4 || a.y < 4 || a.x > 59 || a.y > 59) continue;
    ++counted;
    double best = 1e9;
    for (const auto& b : pb) best = std::min(best, std::hypot(a.x - b.x, a.y - b.y));
    near += best < 1.0;
  }
  EXPECT_GT(near, 0.9 * counted) << near << " of " << counted << " columns within 1 px";
}
