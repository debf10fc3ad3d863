#include "tmdflow/learn/style_translator.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "tmdflow/core/error.hpp"
#include "tmdflow/learn/data_parallel.hpp"
#include "tmdflow/learn/spec_params.hpp"
#include "tmdflow/learn/style_selection.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/progress.hpp"

namespace tmdflow::learn {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

nn::Conv2d conv3(std::int64_t in, std::int64_t out, std::int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}
nn::InstanceNorm2d inorm(std::int64_t c) { return nn::InstanceNorm2d(nn::InstanceNorm2dOptions(c)); }
torch::Tensor up2(const torch::Tensor& x) {
  return F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
}
torch::Tensor lrelu(const torch::Tensor& x) { return F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(0.2)); }

}  // namespace

TranslatorSizes TranslatorSizes::from(const NetworkSpec& spec) {
  SpecParams p(spec);
  TranslatorSizes s;
  s.base = p.integer("base", 8, 1, 1024);
  s.content = p.integer("content", 32, 1, 4096);
  s.attribute = p.integer("attribute", 8, 1, 1024);
  s.tone = p.integer("tone", 0, 0, 4096);
  if (s.tone == 1) throw ConfigError("network: key 'tone': expected 0 (no tone curve) or at least 2 segments, found 1");
  p.finish();
  return s;
}

void TranslatorSizes::to(NetworkSpec& spec) const {
  spec.family = "style-translator";
  spec.params = {{"base", std::to_string(base)}, {"content", std::to_string(content)}, {"attribute", std::to_string(attribute)}};
  if (tone > 0) spec.params["tone"] = std::to_string(tone);
}

torch::Tensor standardise(const torch::Tensor& x) {
  const torch::Tensor m = x.mean({1, 2, 3}, true);
  const torch::Tensor s = (x - m).pow(2).mean({1, 2, 3}, true).add(1e-10).sqrt();
  return (x - m) / s;
}

// ---------------------------------------------------------------------------------------------

ContentEncoderImpl::ContentEncoderImpl(const TranslatorSizes& s) {
  c1_ = register_module("c1", conv3(1, s.base, 2));
  c2_ = register_module("c2", conv3(s.base, s.content, 2));
  n2_ = register_module("n2", inorm(s.content));
  r1_ = register_module("r1", conv3(s.content, s.content));
  nr1_ = register_module("nr1", inorm(s.content));
  r2_ = register_module("r2", conv3(s.content, s.content));
  nr2_ = register_module("nr2", inorm(s.content));
}

torch::Tensor ContentEncoderImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = torch::relu(c1_(x));
  h = torch::relu(n2_(c2_(h)));
  return h + nr2_(r2_(torch::relu(nr1_(r1_(h)))));
}

AttributeEncoderImpl::AttributeEncoderImpl(const TranslatorSizes& s) {
  c1_ = register_module("c1", conv3(1, s.base, 2));
  c2_ = register_module("c2", conv3(s.base, 2 * s.base, 2));
  c3_ = register_module("c3", conv3(2 * s.base, 2 * s.base, 2));
  fc_ = register_module("fc", nn::Linear(2 * s.base, s.attribute));
}

torch::Tensor AttributeEncoderImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = torch::relu(c3_(torch::relu(c2_(torch::relu(c1_(x))))));
  return fc_(h.mean({2, 3}));
}

GeneratorImpl::GeneratorImpl(const TranslatorSizes& s) : s_(s) {
  g1_ = register_module("g1", conv3(s.content + s.attribute, s.content));
  n1_ = register_module("n1", inorm(s.content));
  g2_ = register_module("g2", conv3(s.content, 2 * s.base));
  n2_ = register_module("n2", inorm(2 * s.base));
  g3_ = register_module("g3", conv3(2 * s.base, s.base));
  n3_ = register_module("n3", inorm(s.base));
  out_ = register_module("out", conv3(s.base + 1, 1));
  noise_half_ = register_module("noise_half", nn::Linear(s.attribute, 2 * s.base));
  noise_full_ = register_module("noise_full", nn::Linear(s.attribute, s.base));
  torch::NoGradGuard guard;
  out_->weight.zero_();
  out_->bias.zero_();
}

torch::Tensor GeneratorImpl::forward(const torch::Tensor& content, const torch::Tensor& code, const torch::Tensor& skip,
                                     const torch::Tensor& noise_half, const torch::Tensor& noise_full) {
  const std::int64_t n = content.size(0);
  const torch::Tensor z = code.view({n, s_.attribute, 1, 1}).expand({n, s_.attribute, content.size(2), content.size(3)});
  torch::Tensor h = torch::relu(n1_(g1_(torch::cat({content, z}, 1))));
  h = n2_(g2_(up2(h))) + noise_half * noise_half_(code).view({n, -1, 1, 1});
  h = n3_(g3_(up2(torch::relu(h)))) + noise_full * noise_full_(code).view({n, -1, 1, 1});
  return skip + out_(torch::cat({torch::relu(h), skip}, 1));
}

PatchDiscriminatorImpl::PatchDiscriminatorImpl(std::int64_t b) {
  net_ = register_module("net", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, b, 4).stride(2).padding(1)), nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)),
                                               nn::Conv2d(nn::Conv2dOptions(b, 2 * b, 4).stride(2).padding(1)), inorm(2 * b),
                                               nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)),
                                               nn::Conv2d(nn::Conv2dOptions(2 * b, 4 * b, 4).stride(2).padding(1)), inorm(4 * b),
                                               nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)), conv3(4 * b, 1)));
}

torch::Tensor PatchDiscriminatorImpl::forward(const torch::Tensor& x) { return net_->forward(x); }

ContentDiscriminatorImpl::ContentDiscriminatorImpl(std::int64_t c) {
  c1_ = register_module("c1", conv3(c, c, 2));
  c2_ = register_module("c2", conv3(c, c, 2));
  fc_ = register_module("fc", nn::Linear(c, 1));
}

torch::Tensor ContentDiscriminatorImpl::forward(const torch::Tensor& c) { return fc_(lrelu(c2_(lrelu(c1_(c)))).mean({2, 3})); }

// ---------------------------------------------------------------------------------------------

StyleTranslator::StyleTranslator(const NetworkSpec& spec) : sizes_(TranslatorSizes::from(spec)) {
  sizes_.to(spec_);
  encoder_ = register_module("encoder", ContentEncoder(sizes_));
  generator_ = register_module("generator", Generator(sizes_));
  code_ = register_buffer("code", torch::zeros({1, sizes_.attribute}));
  if (sizes_.tone > 0) {
    tone_from_ = register_buffer("tone_from", torch::linspace(-4, 4, sizes_.tone + 1));
    tone_to_ = register_buffer("tone_to", torch::linspace(-4, 4, sizes_.tone + 1));
  }
}

torch::Tensor apply_tone_curve(const torch::Tensor& x, const torch::Tensor& from, const torch::Tensor& to) {
  const std::int64_t k = from.numel();
  const torch::Tensor flat = x.reshape({-1}).contiguous();
  const torch::Tensor hi = torch::searchsorted(from, flat).clamp(1, k - 1), lo = hi - 1;
  const torch::Tensor f0 = from.index_select(0, lo), f1 = from.index_select(0, hi);
  const torch::Tensor t0 = to.index_select(0, lo), t1 = to.index_select(0, hi);
  return (t0 + (flat - f0) * (t1 - t0) / (f1 - f0)).view(x.sizes());
}

torch::Tensor StyleTranslator::translate(const torch::Tensor& x, const torch::Tensor& noise_half, const torch::Tensor& noise_full) {
  if (x.dim() != 4 || x.size(1) != 1 || x.size(2) % 4 != 0 || x.size(3) % 4 != 0)
    throw InputError("style-translator: expected images (n, 1, H, W) with H and W multiples of 4, found " + std::to_string(x.size(2)) + " x " +
                     std::to_string(x.size(3)));
  const torch::Tensor xs = standardise(x);
  const torch::Tensor code = code_.expand({x.size(0), sizes_.attribute});
  const torch::Tensor y = standardise(generator_(encoder_(xs), code, xs, noise_half, noise_full));
  return sizes_.tone > 0 ? standardise(apply_tone_curve(y, tone_from_, tone_to_)) : y;
}

torch::Tensor StyleTranslator::forward(torch::Tensor x) {
  const std::int64_t n = x.size(0), H = x.size(2), W = x.size(3);
  return translate(x, torch::randn({n, 1, H / 2, W / 2}), torch::randn({n, 1, H, W}));
}

std::pair<torch::Tensor, torch::Tensor> translation_noise(std::uint64_t seed, std::int64_t index0, std::int64_t n, std::int64_t H, std::int64_t W) {
  std::vector<torch::Tensor> half, full;
  for (std::int64_t k = 0; k < n; ++k) {
    std::seed_seq seq{std::uint32_t(seed), std::uint32_t(seed >> 32), std::uint32_t(index0 + k), std::uint32_t((index0 + k) >> 32), 0x5717e5u};
    std::uint64_t key[1];
    seq.generate(reinterpret_cast<std::uint32_t*>(key), reinterpret_cast<std::uint32_t*>(key) + 2);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(key[0]);
    half.push_back(torch::randn({1, 1, H / 2, W / 2}, gen));
    full.push_back(torch::randn({1, 1, H, W}, gen));
  }
  return {torch::cat(half, 0), torch::cat(full, 0)};
}

torch::Tensor resample(const torch::Tensor& x, std::int64_t h, std::int64_t w) {
  if (h == x.size(2) && w == x.size(3)) return x;
  if (h <= x.size(2) && w <= x.size(3)) return F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions({h, w}));
  return F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<std::int64_t>{h, w}).mode(torch::kBicubic).align_corners(false));
}

std::int64_t translator_side(std::int64_t side, double pixel_A, double tp) {
  return std::max<std::int64_t>(4, 4 * std::llround(double(side) * pixel_A / tp / 4.0));
}

torch::Tensor translate_at(StyleTranslator& tr, const torch::Tensor& x, double pixel_A, double tp, std::uint64_t seed, std::int64_t index0) {
  const std::int64_t H = x.size(2), W = x.size(3);
  const std::int64_t h = translator_side(H, pixel_A, tp), w = translator_side(W, pixel_A, tp);
  const auto [nh, nf] = translation_noise(seed, index0, x.size(0), h, w);
  return standardise(resample(tr.translate(resample(x, h, w), nh, nf), H, W));
}

// ---------------------------------------------------------------------------------------------

namespace {

// One crop of `crop` pixels from an image: rotated, flipped and scaled (affine augmentation, the
// paper's rotations of +-45 deg and flips), kept inside the image (smaller rotations, then smaller
// scales where the image is too small), bilinear, standardised.
torch::Tensor cut_crop(const TrainingImage& im, std::int64_t crop, std::mt19937_64& rng, const TranslatorFit& o) {
  std::uniform_real_distribution<double> u01(0, 1);
  double angle = (2 * u01(rng) - 1) * o.max_rotation_deg * M_PI / 180;
  double scale = 1 + (2 * u01(rng) - 1) * o.scale_jitter;
  const bool flip = u01(rng) < 0.5;
  const double side = double(std::min(im.ny, im.nx)) - 2;
  auto half = [&](double a, double s) { return 0.5 * double(crop) * s * (std::fabs(std::cos(a)) + std::fabs(std::sin(a))); };
  if (2 * half(angle, scale) > side) {
    // the largest rotation that fits at this scale (|cos| + |sin| grows with |a| up to 45 deg)
    const double need = side / (double(crop) * scale);  // |cos a| + |sin a| <= need
    angle = need >= 1 ? std::copysign(std::max(0.0, std::asin(std::min(1.0, need / std::sqrt(2.0))) - M_PI / 4), angle) : 0;
    if (2 * half(angle, scale) > side) angle = 0;
    if (2 * half(angle, scale) > side) scale = side / double(crop);
  }
  const double h = half(angle, scale);
  const double cy = h + u01(rng) * std::max(0.0, double(im.ny) - 1 - 2 * h), cx = h + u01(rng) * std::max(0.0, double(im.nx) - 1 - 2 * h);
  const double c = std::cos(angle), s = std::sin(angle);
  const torch::Tensor t = (torch::arange(crop, torch::kFloat64) - 0.5 * double(crop - 1)) * scale;
  const torch::Tensor dy = t.view({crop, 1}).expand({crop, crop}), dx = (flip ? -t : t).view({1, crop}).expand({crop, crop});
  const torch::Tensor sx = cx + c * dx - s * dy, sy = cy + s * dx + c * dy;
  const torch::Tensor grid = torch::stack({(2 * sx + 1) / double(im.nx) - 1, (2 * sy + 1) / double(im.ny) - 1}, -1).to(torch::kFloat32).unsqueeze(0);
  const torch::Tensor img = torch::from_blob(const_cast<float*>(im.pixels.data()), {1, 1, im.ny, im.nx}, torch::kFloat32);
  const torch::Tensor out =
      F::grid_sample(img, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
  return standardise(out);
}

torch::Tensor batch_of(const std::vector<TrainingImage>& images, std::int64_t n, std::int64_t crop, std::mt19937_64& rng, const TranslatorFit& o) {
  std::vector<torch::Tensor> v;
  for (std::int64_t k = 0; k < n; ++k) v.push_back(cut_crop(images[std::size_t(rng() % images.size())], crop, rng, o));
  return torch::cat(v, 0);
}

torch::Tensor ls(const torch::Tensor& score, double target) { return (score - target).pow(2).mean(); }

// 1-D Wasserstein distance between the grey-level distributions of two equal-sized batches.
torch::Tensor quantile_loss(const torch::Tensor& a, const torch::Tensor& b) {
  return (std::get<0>(a.flatten().sort()) - std::get<0>(b.flatten().sort())).abs().mean();
}

void set_trainable(const std::vector<torch::Tensor>& params, bool on) {
  for (auto p : params) p.requires_grad_(on);
}

std::vector<torch::Tensor> all_parameters(const std::vector<const nn::Module*>& modules) {
  std::vector<torch::Tensor> out;
  for (const auto* m : modules)
    for (const auto& p : m->parameters()) out.push_back(p);
  return out;
}

}  // namespace

TranslatorLog fit_translator(const par::Comm& comm, StyleTranslator& tr, const std::vector<TrainingImage>& sims, const std::vector<TrainingImage>& exps,
                             const TranslatorFit& o, std::int64_t log_every, const std::function<void(std::int64_t, const TranslatorLog&)>& on_log) {
  if (sims.empty() || exps.empty()) throw InputError("style-train: expected at least one simulation and one experiment");
  if (o.crop % 8 != 0 || o.crop < 16) throw ConfigError("crop-px: expected a multiple of 8, at least 16, found " + std::to_string(o.crop));
  const auto t0 = std::chrono::steady_clock::now();
  const TranslatorSizes sz = TranslatorSizes::from(tr.spec());
  torch::manual_seed(o.seed);
  AttributeEncoder enc_sim(sz), enc_exp(sz);
  Generator gen_sim(sz);
  PatchDiscriminator d_sim(16), d_exp(16);
  ContentDiscriminator d_content(sz.content);
  ContentEncoder& ec = tr.encoder();
  Generator& gen_exp = tr.generator();
  const std::vector<torch::Tensor> gp = all_parameters({&tr, enc_sim.get(), enc_exp.get(), gen_sim.get()});
  const std::vector<torch::Tensor> dp = all_parameters({d_sim.get(), d_exp.get(), d_content.get()});
  GradientSync gsync(comm, gp), dsync(comm, dp);
  gsync.broadcast_parameters();
  dsync.broadcast_parameters();
  torch::optim::Adam opt_g(gp, torch::optim::AdamOptions(o.learning_rate).betas({0.5, 0.999}));
  torch::optim::Adam opt_d(dp, torch::optim::AdamOptions(o.learning_rate).betas({0.5, 0.999}));
  const std::int64_t B = std::max<std::int64_t>(o.batch, comm.size());
  const std::int64_t local = B / comm.size() + (comm.rank() < B % comm.size() ? 1 : 0);
  const double sigma = o.consistency_sigma_px;
  auto gen_torch = at::make_generator<at::CPUGeneratorImpl>(o.seed * 7919 + std::uint64_t(comm.rank()));
  auto noise = [&](const torch::Tensor& like, std::int64_t div) {
    return torch::randn({like.size(0), 1, like.size(2) / div, like.size(3) / div}, gen_torch);
  };
  TranslatorLog log;
  double acc[5] = {0, 0, 0, 0, 0};
  std::int64_t acc_n = 0;
  par::Progress progress(comm, o.progress_label, std::uint64_t(o.steps), "steps");
  for (std::int64_t step = 0; step < o.steps; ++step) {
    std::mt19937_64 rng(o.seed * 1000003ULL + std::uint64_t(step) * 7919ULL + std::uint64_t(comm.rank()));
    const torch::Tensor x = batch_of(sims, local, o.crop, rng, o), y = batch_of(exps, local, o.crop, rng, o);
    const torch::Tensor cx = ec(x), cy = ec(y), ax = enc_sim(x), ay = enc_exp(y);
    const torch::Tensor u = gen_exp(cx, ay, x, noise(x, 2), noise(x, 1));  // simulation in experiment style
    const torch::Tensor v = gen_sim(cy, ax, y, noise(y, 2), noise(y, 1));  // experiment in simulation style

    // Discriminators (least squares): real 1, translated 0; content: simulation 1, experiment 0.
    opt_d.zero_grad();
    const torch::Tensor loss_d = ls(d_exp(y), 1) + ls(d_exp(u.detach()), 0) + ls(d_sim(x), 1) + ls(d_sim(v.detach()), 0) +
                                 ls(d_content(cx.detach()), 1) + ls(d_content(cy.detach()), 0);
    loss_d.backward();
    dsync.allreduce_gradients(local, B);
    opt_d.step();

    // Encoders and generators.
    set_trainable(dp, false);
    opt_g.zero_grad();
    const torch::Tensor adv = ls(d_exp(u), 1) + ls(d_sim(v), 1);
    const torch::Tensor cadv = ls(d_content(cx), 0.5) + ls(d_content(cy), 0.5);
    const torch::Tensor cu = ec(u), cv = ec(v), au = enc_exp(u), av = enc_sim(v);
    const torch::Tensor x_back = gen_sim(cu, av, u, noise(x, 2), noise(x, 1)), y_back = gen_exp(cv, au, v, noise(y, 2), noise(y, 1));
    // Reconstructions and the content consistency compare low-passed images: the noise is drawn
    // afresh each time and no loss can ask for the same draw back (on whole images the L1 terms
    // would forbid the generators to make noise at all); the adversarial and quantile terms shape it.
    auto low = [&](const torch::Tensor& t) { return gaussian_blur(t, sigma, BlurEdge::zeros); };
    const torch::Tensor xl = low(x), yl = low(y);
    const torch::Tensor cycle = (low(x_back) - xl).abs().mean() + (low(y_back) - yl).abs().mean();
    const torch::Tensor self = (low(gen_sim(cx, ax, x, noise(x, 2), noise(x, 1))) - xl).abs().mean() +
                               (low(gen_exp(cy, ay, y, noise(y, 2), noise(y, 1))) - yl).abs().mean();
    const torch::Tensor consistency = (low(u) - xl).abs().mean() + (low(v) - yl).abs().mean();
    const torch::Tensor quant = quantile_loss(u, y) + quantile_loss(v, x);
    const torch::Tensor code = ax.pow(2).mean() + ay.pow(2).mean();
    const torch::Tensor loss_g = adv + o.weight_content_adversarial * cadv + o.weight_cycle * cycle + o.weight_self * self +
                                 o.weight_content_consistency * consistency + o.weight_quantile * quant + o.weight_code * code;
    loss_g.backward();
    gsync.allreduce_gradients(local, B);
    opt_g.step();
    set_trainable(dp, true);

    acc[0] += loss_d.item<double>(), acc[1] += adv.item<double>(), acc[2] += cycle.item<double>(), acc[3] += consistency.item<double>(),
        acc[4] += quant.item<double>();
    ++acc_n;
    if ((step + 1) % log_every == 0 || step + 1 == o.steps) {
      double mean[5];
      for (int k = 0; k < 5; ++k) mean[k] = comm.allreduce(acc[k], par::Op::sum) / double(acc_n * comm.size());
      log.step.push_back(double(step + 1));
      log.loss_d.push_back(mean[0]), log.loss_adversarial.push_back(mean[1]), log.loss_cycle.push_back(mean[2]),
          log.loss_consistency.push_back(mean[3]), log.loss_quantile.push_back(mean[4]);
      std::fill(acc, acc + 5, 0.0);
      acc_n = 0;
      log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (on_log && comm.is_root()) on_log(step + 1, log);
    }
    par::interruption_point(comm);
    progress.advance(comm.is_root() ? 1 : 0);
  }
  progress.finish();

  // The experiments' code: the mean over crops of every experiment (the same crops on every rank).
  {
    torch::NoGradGuard guard;
    std::mt19937_64 rng(o.seed * 31 + 17);
    torch::Tensor sum = torch::zeros({1, sz.attribute});
    std::int64_t n = 0;
    for (const auto& im : exps)
      for (int k = 0; k < 8; ++k) {
        sum += enc_exp(cut_crop(im, o.crop, rng, o));
        ++n;
      }
    tr.code().copy_(sum / double(n));
  }
  // The tone curve: quantile map from translated simulation crops to experiment crops (every rank
  // the same crops and noise), fitted with the identity curve in place.
  if (sz.tone > 0) {
    torch::NoGradGuard guard;
    const std::int64_t K = sz.tone;
    tr.tone_from().copy_(torch::linspace(-4, 4, K + 1));
    tr.tone_to().copy_(tr.tone_from());
    std::mt19937_64 rng(o.seed * 37 + 29);
    std::vector<torch::Tensor> translated, experimental;
    const std::int64_t per_sim = std::max<std::int64_t>(1, 64 / std::int64_t(sims.size()));
    std::int64_t index = 0;
    for (const auto& im : sims)
      for (std::int64_t k = 0; k < per_sim; ++k, ++index) {
        const torch::Tensor c = cut_crop(im, o.crop, rng, o);
        const auto [nh, nf] = translation_noise(o.seed, index, 1, o.crop, o.crop);
        translated.push_back(tr.translate(c, nh, nf).flatten());
      }
    const std::int64_t per_exp = std::max<std::int64_t>(8, 64 / std::int64_t(exps.size()));
    for (const auto& im : exps)
      for (std::int64_t k = 0; k < per_exp; ++k) experimental.push_back(cut_crop(im, o.crop, rng, o).flatten());
    const torch::Tensor p = torch::linspace(0.0005, 0.9995, K + 1, torch::kFloat64);
    auto quantiles = [&](const std::vector<torch::Tensor>& v) {
      const torch::Tensor s = std::get<0>(torch::cat(v).to(torch::kFloat64).sort());
      const torch::Tensor at = (p * double(s.numel() - 1)).round().to(torch::kLong);
      return s.index_select(0, at);
    };
    torch::Tensor from = quantiles(translated), to = quantiles(experimental);
    // strictly increasing knots (ties where the translation's grey levels bunch up)
    for (std::int64_t k = 1; k <= K; ++k) {
      from[k] = std::max(from[k].item<double>(), from[k - 1].item<double>() + 1e-4);
      to[k] = std::max(to[k].item<double>(), to[k - 1].item<double>());
    }
    tr.tone_from().copy_(from.to(torch::kFloat32));
    tr.tone_to().copy_(to.to(torch::kFloat32));
  }
  log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return log;
}

}  // namespace tmdflow::learn
