// Stage style-fit: the realism parameters of the simulation engine (dose, source size, scan jitter,
// background, read noise; the detector's gain and offset) that make a simulation of a material's
// stack look like one or more unlabelled experimental images, judged by their grey-level
// histograms (KL divergence), radially averaged power spectra and line-profile roughness (Ra)
// (analysis/style/style_fit.hpp; data_schema/style.md). Writes the style (style/1), which
// simulate-adf and make-trainset take with --style, the measures of the noise-free, noise-added and
// styled simulations against each image, and a PNG sheet. Every rank computes the same fit (it is
// small); the product is written collectively.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/analysis/style/style_fit.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/io/plot.hpp"
#include "tmdflow/io/plot_curves.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/sim/style.hpp"

namespace tmdflow::stages {
namespace {

class StyleFit : public Stage {
 public:
  std::string name() const override { return "style-fit"; }
  std::string summary() const override { return "fit the simulation's realism (dose, blur, jitter, background, read noise, point-spread) to experimental images"; }
  std::string description() const override {
    return "Simulates the stack the images show (--material, --layers, --stacking, --slip-a/-b, --twist-deg, --phi-deg) at their\n"
           "pixel size with the incoherent ADF model, then fits the realism the engine adds -- dose (Poisson counts), Gaussian\n"
           "source size, scan-line jitter, a uniform background, read noise, a Gaussian point-spread after the noise, and\n"
           "the detector's gain and offset (matched moments) -- so that the simulation's grey-level histogram (KL\n"
           "divergence), radially averaged power spectrum (and its anisotropy) and line-profile roughness Ra match the\n"
           "images' (Nelder-Mead on a central --fit-px crop; deterministic). Images of any grey scale: 8-bit images are\n"
           "compared level by level. Writes style/1: the fitted values in parameters/, the\n"
           "training ranges around them in ranges/ (simulate-adf --style, make-trainset --style), the measures of the\n"
           "noise-free, noise-added and styled simulations against each image in measures/, the three simulations, and a\n"
           "PNG sheet. Definitions: data_schema/style.md.";
  }
  std::string product_schema() const override { return "style/1"; }
  std::string default_group() const override { return "/style"; }
  bool validate_reads_input() const override { return true; }

  void declare(Options& o) override {
    o.add<std::string>("material", &material_, "MoS2", "compound the images show (MoS2, WS2, MoSe2, WSe2; 1T'': ReS2, ReSe2)")
        .add<int>("layers", &layers_, 2, "layers of the stack (1-3)")
        .add<std::string>("stacking", &stacking_, "", "registry at zero slip: 2H, 3R or AA (default 2H for MX2; 1T'': AA)")
        .add<std::string>("slip-a", &slip_a_, "", "slip of each upper layer along a1 [fraction of a1], comma-separated")
        .add<std::string>("slip-b", &slip_b_, "", "slip of each upper layer along a2 [fraction of a2], comma-separated")
        .add<std::string>("twist-deg", &twist_, "", "twist of each upper layer [degrees], comma-separated")
        .add<double>("phi-deg", &phi_, 30.0, "orientation of the bottom layer [degrees] (MX2: phi; 1T'': rotation of the cell's a axis)")
        .add<double>("pixel-A", &pixel_A_, -1.0, "pixel size of the images [Angstrom] (-1: the input's calibration)")
        .add<double>("voltage-kV", &scene_.adf.probe.voltage_kV, 80.0, "accelerating voltage [kV]")
        .add<double>("convergence-mrad", &scene_.adf.probe.convergence_mrad, 30.0, "probe convergence semi-angle [mrad]")
        .add<double>("C1-A", &scene_.adf.probe.aberrations.C1, 0.0, "defocus C1 [Angstrom] (held fixed)")
        .add<double>("Cs-A", &scene_.adf.probe.aberrations.Cs, 0.0, "spherical aberration [Angstrom]")
        .add<double>("inner-mrad", &scene_.adf.inner_mrad, 60.0, "ADF detector inner angle [mrad]")
        .add<double>("outer-mrad", &scene_.adf.outer_mrad, 200.0, "ADF detector outer angle [mrad]")
        .add<double>("contamination", &scene_.contamination, 0.0, "amorphous carbon on the surface [atoms per A^2] (held fixed)")
        .add<std::string>("fit", &fit_, "dose,source-size,jitter,background,read-noise,psf", "the parameters fitted (the others keep their values below)")
        .add<double>("dose-e-per-A2", &spec_.start.dose_e_per_A2, 0.0, "dose [e/A^2]: the start (0: found by a scan), or the value when not fitted")
        .add<double>("source-size-A", &spec_.start.source_size_A, 0.3, "Gaussian source size [Angstrom]: start or value")
        .add<double>("jitter-A", &spec_.start.jitter_A, 0.0, "scan-line jitter along x, rms [Angstrom]: start or value")
        .add<double>("background", &spec_.start.background, 0.0, "uniform background [fraction of the beam]: start or value")
        .add<double>("read-noise", &spec_.start.read_noise, 0.0, "read noise [detected electrons rms]: start or value")
        .add<double>("psf-A", &spec_.start.psf_A, 0.0, "Gaussian point-spread after the noise, sigma [Angstrom]: start or value")
        .add<std::string>("weights", &weights_, "1,1,1,1",
                          "weights of the objective's terms: KL, spectrum distance^2, relative Ra difference^2, anisotropy distance^2")
        .add<int>("fit-px", &spec_.fit_px, 256, "side of the central crop the fit works on [pixels] (0: whole images)")
        .add<int>("evaluations", &spec_.max_evaluations, 300, "most simulations the fit renders")
        .add<double>("k-min-invA", &spec_.k_min_invA, 0.1, "lowest spatial frequency of the power spectra compared [1/Angstrom]")
        .add<std::uint64_t>("seed", &scene_.seed, 1, "random seed (structure, jitter, noise)")
        .add<std::string>("figures", &figures_, "auto", "folder for the PNG sheet (auto: figures/ beside the output; none: no sheet)");
  }

  void validate(const StageContext& ctx) override {
    spec_.fit = str::split(fit_, ',');
    for (auto& f : spec_.fit) f = str::trim(f);
    const auto w = str::to_double_list(weights_, "weights");
    if (w.size() != 4) throw ConfigError("weights: expected four values KL,SPECTRUM,ROUGHNESS,ANISOTROPY, found '" + weights_ + "'");
    spec_.weight_kl = w[0], spec_.weight_spectrum = w[1], spec_.weight_roughness = w[2], spec_.weight_anisotropy = w[3];
    analysis::validate(spec_);
    auto list = [](const std::string& t, const char* what) { return t.empty() ? std::vector<double>{} : str::to_double_list(t, what); };
    auto& k = scene_.stack;
    k.material = material_;
    k.layers = layers_;
    k.stacking = stacking_;
    k.phi_deg = phi_;
    k.rotation_deg = phi_;
    k.slip_a = list(slip_a_, "slip-a");
    k.slip_b = list(slip_b_, "slip-b");
    k.twist_deg = list(twist_, "twist-deg");
    k.extent_x = k.extent_y = 12;
    sim::build_stack(k);  // the builder's checks (material, layers, registry, slips), before any work
    if (!(scene_.contamination >= 0)) throw ConfigError("contamination: expected atoms per A^2 >= 0, found " + Options::text(scene_.contamination));
    if (pixel_A_ != -1) require_positive("pixel-A", pixel_A_, "the input's calibration");

    const io::ImageStackReader reader = io::ImageStackReader::open(ctx.input);
    meta_ = reader.meta();
    where_ = reader.where();
    if (pixel_A_ == -1) {
      reader.require_calibrated("style-fit (or give --pixel-A)");
      if (std::fabs(meta_.pixel_size_y_A / meta_.pixel_size_x_A - 1) > 0.02)
        throw InputError(where_ + ": expected square pixels, found " + Options::text(meta_.pixel_size_y_A) + " x " +
                         Options::text(meta_.pixel_size_x_A) + " A (give --pixel-A)");
      pixel_used_ = meta_.pixel_size_x_A;
    } else {
      pixel_used_ = pixel_A_;
    }
    if (meta_.height < 32 || meta_.width < 32)
      throw InputError(where_ + ": images: expected at least 32 x 32 pixels, found " + std::to_string(meta_.height) + " x " + std::to_string(meta_.width));
    sim::AdfSpec check = scene_.adf;
    check.ny = check.nx = 16;
    check.pixel_A = pixel_used_;
    sim::AdfSimulator simulator(check);  // sampling and detector checks: the pixel must resolve the probe
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const io::ImageStackReader reader = io::ImageStackReader::open(ctx.input);
    analysis::StyleExperiment e;
    e.ny = int(meta_.height), e.nx = int(meta_.width), e.pixel_A = pixel_used_;
    for (std::int64_t f = 0; f < meta_.frames; ++f) {
      std::vector<float> frame(std::size_t(e.ny) * e.nx);
      reader.read_frames_as<float>(f, 1, frame.data());
      e.frames.push_back(std::move(frame));
    }
    if (ctx.comm.is_root())
      log::info("style-fit: ", meta_.frames, " image(s) of ", e.ny, " x ", e.nx, " at ", Options::text(pixel_used_), " A per pixel from ", where_,
                "; fitting ", fit_, " on a ", std::min(spec_.fit_px > 0 ? spec_.fit_px : e.ny, e.ny), " px crop");
    par::interruption_point(ctx.comm);
    const analysis::StyleFitReport r = analysis::fit_style(e, scene_, spec_);
    if (ctx.comm.is_root()) {
      const auto& c = r.comparisons.front();
      log::info("style-fit: dose ", Options::text(r.fitted.dose_e_per_A2), " e/A^2, source size ", Options::text(r.fitted.source_size_A),
                " A, jitter ", Options::text(r.fitted.jitter_A), " A, background ", Options::text(r.fitted.background), ", read noise ",
                Options::text(r.fitted.read_noise), " e, psf ", Options::text(r.fitted.psf_A), " A (", r.evaluations, " simulations, ", Options::text(r.seconds), " s); KL noise-free ",
                Options::text(c[0].kl), ", noise added ", Options::text(c[1].kl), ", style ", Options::text(c[2].kl));
    }
    write_product(ctx, out.group(), r);
    if (!figures_folder(figures_, ctx.output.file).empty())
      par::collectively(ctx.comm, [&] {
        if (ctx.comm.is_root()) write_figures(ctx, e, r);
      });
  }

 private:
  void write_product(const StageContext& ctx, const io::h5::Group& g, const analysis::StyleFitReport& r) const {
    g.set_attr("emd_group_type", "root");
    g.set_attr("python_class", "Root");
    sim::Style s;
    s.material = material_;
    s.stacking = stacking_;
    if (s.stacking.empty()) s.stacking = sim::layer_cell(material_).triclinic ? "AA" : "2H";
    s.layers = layers_;
    s.pixel_A = pixel_used_;
    s.voltage_kV = scene_.adf.probe.voltage_kV;
    s.convergence_mrad = scene_.adf.probe.convergence_mrad;
    s.inner_mrad = scene_.adf.inner_mrad;
    s.outer_mrad = scene_.adf.outer_mrad;
    s.defocus_A = scene_.adf.probe.aberrations.C1;
    s.Cs_A = scene_.adf.probe.aberrations.Cs;
    s.dose_e_per_A2 = r.fitted.dose_e_per_A2;
    s.source_size_A = r.fitted.source_size_A;
    s.jitter_A = r.fitted.jitter_A;
    s.background = r.fitted.background;
    s.read_noise = r.fitted.read_noise;
    s.psf_A = r.fitted.psf_A;
    s.contamination = scene_.contamination;
    s.gain = r.comparisons.front()[2].mapping.gain;
    s.offset = r.comparisons.front()[2].mapping.offset;
    sim::write_style(g, s);
    g.set_attr("source", where_);
    g.set_attr("slip_a", slip_a_);
    g.set_attr("slip_b", slip_b_);
    g.set_attr("twist_deg", twist_);
    g.set_attr("phi_deg", phi_);
    g.set_attr("grey_lo", r.scale.lo);
    g.set_attr("grey_hi", r.scale.hi);
    g.set_attr("grey_levels", r.scale.integer_levels ? "8-bit levels" : "256 bins between the 0.1 and 99.9 % quantiles");

    const io::h5::Group fit = g.create_group("fit");
    fit.set_attr("parameters", str::join(spec_.fit, ","));
    fit.set_attr("objective_start", r.objective_start);
    fit.set_attr("objective_fitted", r.objective_fitted);
    fit.set_attr("evaluations", std::int64_t(r.evaluations));
    fit.set_attr("seconds", r.seconds);
    fit.set_attr("crop_px", std::vector<double>{double(r.fit_ny), double(r.fit_nx)});
    fit.set_attr("weights", std::vector<double>{spec_.weight_kl, spec_.weight_spectrum, spec_.weight_roughness, spec_.weight_anisotropy});
    const io::h5::Group start = fit.create_group("start");
    start.set_attr("dose_e_per_A2", r.start.dose_e_per_A2);
    start.set_attr("source_size_A", r.start.source_size_A);
    start.set_attr("jitter_A", r.start.jitter_A);
    start.set_attr("background", r.start.background);
    start.set_attr("read_noise", r.start.read_noise);
    start.set_attr("psf_A", r.start.psf_A);
    fit.write_vector("history", r.history).set_attr("units", "objective (best so far) after each evaluation of the simplex");

    const std::int64_t n = std::int64_t(r.comparisons.size()), k = analysis::kStyleSimulations;
    const std::int64_t bins = std::int64_t(r.experiment_histograms.front().size()), kb = std::int64_t(r.spectrum_k_invA.size());
    const io::h5::Group m = g.create_group("measures");
    std::vector<std::string> names;
    for (int q = 0; q < k; ++q) names.push_back(analysis::style_simulation_name(q));
    m.write_strings("simulations", names);
    auto per = [&](const char* name, auto member, const char* units) {
      std::vector<double> v;
      for (const auto& row : r.comparisons)
        for (const auto& c : row) v.push_back(member(c));
      m.write_array(name, v, {n, k}).set_attr("units", units);
    };
    per("kl", [](const analysis::StyleComparison& c) { return c.kl; }, "nats: KL(experiment || simulation) of the grey-level histograms");
    per("roughness", [](const analysis::StyleComparison& c) { return c.roughness; }, "Ra of the line profiles / grey-scale width");
    per("spectrum_distance", [](const analysis::StyleComparison& c) { return c.spectrum_distance; }, "rms log10 difference of the radial power spectra");
    per("anisotropy_distance", [](const analysis::StyleComparison& c) { return c.anisotropy_distance; },
        "rms difference of log10(P_x / P_y) of the power spectra");
    per("objective", [](const analysis::StyleComparison& c) { return c.objective; }, "the fit's objective");
    per("gain", [](const analysis::StyleComparison& c) { return c.mapping.gain; }, "grey levels per detected electron (noise-free: per beam fraction)");
    per("offset", [](const analysis::StyleComparison& c) { return c.mapping.offset; }, "grey levels");
    m.write_vector("experiment_roughness", r.experiment_roughness).set_attr("units", "Ra of the line profiles / grey-scale width");
    std::vector<double> level(static_cast<std::size_t>(bins));
    for (std::int64_t b = 0; b < bins; ++b)
      level[std::size_t(b)] = r.scale.integer_levels ? r.scale.lo + double(b) * r.scale.width() / double(bins - 1)
                                                     : r.scale.lo + (double(b) + 0.5) * r.scale.width() / double(bins);
    m.write_vector("grey_level", level).set_attr("units", "grey level at each histogram bin's centre");
    std::vector<double> he, hs, se, ss;
    for (std::int64_t q = 0; q < n; ++q) {
      he.insert(he.end(), r.experiment_histograms[std::size_t(q)].begin(), r.experiment_histograms[std::size_t(q)].end());
      se.insert(se.end(), r.experiment_spectra[std::size_t(q)].begin(), r.experiment_spectra[std::size_t(q)].end());
      for (int j = 0; j < k; ++j) {
        hs.insert(hs.end(), r.simulation_histograms[std::size_t(q)][std::size_t(j)].begin(), r.simulation_histograms[std::size_t(q)][std::size_t(j)].end());
        ss.insert(ss.end(), r.simulation_spectra[std::size_t(q)][std::size_t(j)].begin(), r.simulation_spectra[std::size_t(q)][std::size_t(j)].end());
      }
    }
    m.write_array("histogram_experiment", he, {n, bins}).set_attr("units", "pixels per bin");
    m.write_array("histogram", hs, {n, k, bins}).set_attr("units", "pixels per bin");
    m.write_vector("spectrum_k_invA", r.spectrum_k_invA).set_attr("units", "1/A (bin centres, log-spaced)");
    m.write_array("spectrum_experiment", se, {n, kb}).set_attr("units", "log10 radial power, mean 0 over the bins");
    m.write_array("spectrum", ss, {n, k, kb}).set_attr("units", "log10 radial power, mean 0 over the bins");
    m.set_attr("noise_sd", r.noise_sd);

    std::vector<float> sims;
    for (const auto& s3 : r.simulations) sims.insert(sims.end(), s3.begin(), s3.end());
    io::emd::ArraySpec as{"simulation", io::Dtype::f32, {k, meta_.height, meta_.width},
                          {{"simulation", "index", 0.0, 1.0}, {"y", "A", 0.0, pixel_used_}, {"x", "A", 0.0, pixel_used_}}, "Array",
                          "grey level (the first image's scale)", {}};
    io::emd::write_array(g, as, sims);
    (void)ctx;
  }

  void write_figures(const StageContext& ctx, const analysis::StyleExperiment& e, const analysis::StyleFitReport& r) const {
    namespace fs = std::filesystem;
    const fs::path dir = figures_folder(figures_, ctx.output.file);
    fs::create_directories(dir);
    const std::string stem = fs::path(ctx.output.file).stem().string();
    // Images: a central crop of at most 320 x 320 pixels of the first image and the three simulations.
    const int h = std::min(e.ny, 320), w = std::min(e.nx, 320), i0 = (e.ny - h) / 2, j0 = (e.nx - w) / 2;
    auto crop = [&](const std::vector<float>& v) {
      std::vector<float> c(std::size_t(h) * w);
      for (int i = 0; i < h; ++i)
        for (int j = 0; j < w; ++j) c[std::size_t(i) * w + j] = v[std::size_t(i0 + i) * e.nx + j0 + j];
      return c;
    };
    const io::ColourScale grey{r.scale.lo, r.scale.hi, false, io::Ramp::grey};
    const io::plot::Axes axes = io::plot::scan_axes(pixel_used_, "A");
    io::plot::Figure fig;
    fig.title = "style-fit: " + where_;
    fig.columns = 2;
    const auto& c = r.comparisons.front();
    auto label = [&](const char* what, const analysis::StyleComparison* cmp) {
      if (!cmp) return std::string(what) + " (Ra " + Options::text(std::round(r.experiment_roughness.front() * 1000) / 1000) + ")";
      return std::string(what) + " (KL " + Options::text(std::round(cmp->kl * 1000) / 1000) + ", Ra " + Options::text(std::round(cmp->roughness * 1000) / 1000) + ")";
    };
    fig.panels.push_back(io::plot::intensity_panel(label("experiment", nullptr), crop(e.frames.front()), h, w, axes, "grey level", grey));
    fig.panels.push_back(io::plot::intensity_panel(label("noise-free simulation", &c[0]), crop(r.simulations[0]), h, w, axes, "grey level", grey));
    fig.panels.push_back(io::plot::intensity_panel(label("noise added", &c[1]), crop(r.simulations[1]), h, w, axes, "grey level", grey));
    fig.panels.push_back(io::plot::intensity_panel(label("style fit", &c[2]), crop(r.simulations[2]), h, w, axes, "grey level", grey));
    for (auto& p : fig.panels) p.colour_bar.reset();
    fig.shared_colour_bar = io::plot::ColourBar{"grey level", grey};
    io::plot::write_figure((dir / (stem + "_style_images.png")).string(), fig,
                           "Central crops of the first image of " + where_ + " and of three simulations of " + material_ +
                               " on its grey scale: noise-free, with white noise of the image's level added, and with the fitted style; "
                               "each titled with its grey-level KL divergence from the image and its line-profile roughness Ra.");

    // Charts: histograms, radial power spectra, the fit's progress.
    std::vector<double> level(r.experiment_histograms.front().size());
    for (std::size_t b = 0; b < level.size(); ++b)
      level[b] = r.scale.integer_levels ? r.scale.lo + double(b) * r.scale.width() / double(level.size() - 1)
                                        : r.scale.lo + (double(b) + 0.5) * r.scale.width() / double(level.size());
    auto fractions = [](const std::vector<double>& h) {
      double s = 0;
      for (double v : h) s += v;
      std::vector<double> f(h.size());
      for (std::size_t b = 0; b < h.size(); ++b) f[b] = s > 0 ? h[b] / s : 0;
      return f;
    };
    const char* titles[] = {"noise-free", "noise added", "style fit"};
    io::plot::Chart hist;
    hist.title = "Grey-level histograms", hist.x_label = "grey level", hist.y_label = "fraction of pixels";
    hist.series.push_back({"experiment", level, fractions(r.experiment_histograms.front()), {0, 0, 0}, false, false});
    for (int k = 0; k < analysis::kStyleSimulations; ++k)
      hist.series.push_back({titles[k], level, fractions(r.simulation_histograms.front()[std::size_t(k)]), io::plot::series_colour(k), k == 0, false});
    io::plot::Chart spec;
    spec.title = "Radially averaged power spectra", spec.x_label = "spatial frequency (1/A)", spec.y_label = "log10 power (mean 0)";
    spec.series.push_back({"experiment", r.spectrum_k_invA, r.experiment_spectra.front(), {0, 0, 0}, false, false});
    for (int k = 0; k < analysis::kStyleSimulations; ++k)
      spec.series.push_back({titles[k], r.spectrum_k_invA, r.simulation_spectra.front()[std::size_t(k)], io::plot::series_colour(k), k == 0, false});
    io::plot::Chart progress;
    progress.title = "Fit", progress.x_label = "simulation", progress.y_label = "objective (best so far)";
    progress.log_y = progress.integer_x = true;
    std::vector<double> xs, ys;  // a fit that spent its evaluations on the scans has no simplex history
    for (std::size_t q = 0; q < r.history.size(); ++q)
      if (std::isfinite(r.history[q])) xs.push_back(double(q + 1)), ys.push_back(r.history[q]);
    progress.series.push_back({"objective", xs, ys, io::plot::series_colour(2), false, false});
    std::vector<io::plot::Chart> charts = {hist, spec};
    if (!xs.empty()) charts.push_back(progress);
    io::plot::write_charts((dir / (stem + "_style_measures.png")).string(), charts, "style-fit: " + where_,
                           "Grey-level histograms and radially averaged power spectra of the first image of " + where_ +
                               " and of its noise-free, noise-added and style-fitted simulations; and the fit's objective over its simulations.");
  }

  analysis::StyleScene scene_;
  analysis::StyleFitSpec spec_;
  std::string material_, stacking_, slip_a_, slip_b_, twist_, fit_, weights_, figures_;
  int layers_ = 2;
  double phi_ = 30, pixel_A_ = -1, pixel_used_ = 0;
  io::ImageStackMeta meta_;
  std::string where_;
};

}  // namespace

std::unique_ptr<Stage> make_style_fit_stage() { return std::make_unique<StyleFit>(); }

}  // namespace tmdflow::stages
