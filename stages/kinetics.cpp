// Stage kinetics: the numbers of a defect movie with their error bars (issue #18, items 5 and 6;
// data_schema/dynamics.md): populations of every class and complex per frame and dose, the
// per-frame Markov transition matrix between the dopant complexes with counts and bootstrap
// intervals (analysis/dynamics/transition_matrix.hpp), the hop rate and the diffusion coefficient
// of isolated vacancies (analysis/dynamics/diffusion.hpp), two PNGs (populations; the transition
// graph). Input: motifs/1 (defect-motifs); product dynamics/1, the whole analysis in one group.
#include <cmath>
#include <filesystem>
#include <limits>

#include "defect_table.hpp"
#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/analysis/dynamics/observations.hpp"
#include "tmdflow/analysis/dynamics/transition_matrix.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/plot.hpp"
#include "tmdflow/io/plot_curves.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::stages {
namespace {

namespace dyn = analysis::dynamics;
constexpr int kComplexes = 4;

class Kinetics : public Stage {
 public:
  std::string name() const override { return "kinetics"; }
  std::string summary() const override { return "populations, transition matrix between dopant complexes and vacancy diffusion of a defect movie, with intervals"; }
  std::string description() const override {
    return "Input: the motifs/1 product of defect-motifs (tracked defects with their complexes). Populations of every class and\n"
           "complex per frame and versus the accumulated dose (PNG). Transitions: one sequence per dopant track, its complex per\n"
           "frame (unknown where it is not seen; --smooth-frames: a majority filter undoes one-frame misdetections); counts n_ij of\n"
           "the frame steps i -> j with both ends known, P_ij = n_ij / sum_j n_ij (per frame), percentile-bootstrap intervals over\n"
           "tracks (--bootstrap, --confidence); the transition graph (PNG). Diffusion: D = <|dr|^2> / 4 over the one-frame steps of\n"
           "vacancy tracks that start isolated and at least one lattice constant inside the field where defects are reported, less\n"
           "the mean |dr|^2 of the steps that stay on their site (the detector's position scatter; --subtract-localisation-noise),\n"
           "in A^2 per frame and, with a frame time, per second, bootstrap interval over tracks; the hop rate of an isolated vacancy\n"
           "from the fraction of those steps that move. Writes dynamics/1: the defect table (frame, x_px, y_px, drift_px,\n"
           "defect_class with class_names, track_id, ...), transition_matrix, complex_names, transition_counts,\n"
           "diffusion_A2_per_frame, diffusion_A2_per_s and their intervals (data_schema/dynamics.md).";
  }
  std::string product_schema() const override { return "dynamics/1"; }
  std::string default_group() const override { return "/dynamics"; }
  bool validate_reads_input() const override { return true; }

  void declare(Options& o) override {
    o.add<int>("bootstrap", &bootstrap_, 1000, "bootstrap replicates of the intervals (resampling tracks)")
        .add<double>("confidence", &confidence_, 0.95, "central probability of the intervals")
        .add<int>("smooth-frames", &smooth_frames_, 1,
                  "majority filter of each dopant's complex over this many frames before counting transitions (odd; 1: none)")
        .add<double>("frame-time-s", &frame_time_, -1, "time between frames [s] (-1: from the movie; 0: unknown)")
        .add<double>("dose-e-per-A2", &dose_, -1, "dose per frame [e/A^2] (-1: from the movie; 0: unknown)")
        .add<std::string>("material", &material_, "WS2", "MX2 compound whose lattice constant is the hop length")
        .add<double>("lattice-constant-A", &a_A_, 0.0, "lattice constant [Angstrom] (0: that of --material)")
        .add<bool>("subtract-localisation-noise", &subtract_noise_, true,
                   "subtract from <|dr|^2> the mean square of the steps that stay on their site (the detector's position scatter)")
        .add<std::uint64_t>("seed", &seed_, 1, "random seed of the bootstrap")
        .add<std::string>("figures", &figures_, "auto", "folder for the PNGs (auto: figures/ beside the output; empty: none)");
  }

  void validate(const StageContext& ctx) override {
    if (bootstrap_ < 0 || bootstrap_ > 1000000) throw ConfigError("bootstrap: expected 0 to 1000000 replicates, found " + std::to_string(bootstrap_));
    if (!(confidence_ > 0 && confidence_ < 1)) throw ConfigError("confidence: expected a value in (0, 1), found " + Options::text(confidence_));
    if (smooth_frames_ < 1 || smooth_frames_ % 2 == 0 || smooth_frames_ > 99)
      throw ConfigError("smooth-frames: expected an odd number of frames from 1 to 99, found " + std::to_string(smooth_frames_));
    require_positive("frame-time-s", frame_time_ == 0 ? 1.0 : frame_time_, "from the movie");
    require_positive("dose-e-per-A2", dose_ == 0 ? 1.0 : dose_, "from the movie");
    if (a_A_ < 0) throw ConfigError("lattice-constant-A: expected 0 (from --material) or a positive length");
    lattice_A_ = a_A_ > 0 ? a_A_ : sim::material(material_).a;
    table_ = read_defect_table(ctx.input, "/motifs", "motifs");
    if (table_.class_names.size() != 3)
      throw InputError(ctx.input + ": class_names: expected the three classes V_S, V_S2 and a dopant, found " + std::to_string(table_.class_names.size()));
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    DefectTable t = table_;
    MovieFacts& m = t.movie;
    if (frame_time_ >= 0) m.frame_time_s = frame_time_;
    if (dose_ >= 0) m.dose_e_per_A2 = dose_;
    const std::int64_t T = m.frames, C = std::int64_t(t.class_names.size());
    const double p = m.pixel_size_A;
    std::vector<dyn::TrackedDefect> rows(t.size());
    for (std::size_t k = 0; k < t.size(); ++k) {
      auto& r = rows[k];
      r.frame = t.frame[k], r.track = t.track_id[k], r.cls = t.defect_class[k], r.complex = t.complex[k], r.isolated = t.isolated[k] != 0;
      r.x_A = t.x_A[k], r.y_A = t.y_A[k];
      // The field where defects are reported: the frame less the detector's edge margin, so a step
      // that starts a hop inside it cannot end where a vacancy would go unseen.
      r.edge_distance_A = p * std::min({t.x_px[k] + 0.5, m.width - 0.5 - t.x_px[k], t.y_px[k] + 0.5, m.height - 0.5 - t.y_px[k]}) - m.edge_margin_A;
    }
    const auto classes = dyn::class_populations(rows, T, int(C));
    const auto complexes = dyn::complex_populations(rows, T, kComplexes);
    const auto sequences = dyn::majority_filter(dyn::dopant_complex_sequences(rows, T), smooth_frames_);
    dyn::TransitionSpec ts;
    ts.states = kComplexes;
    ts.bootstrap = bootstrap_;
    ts.confidence = confidence_;
    ts.seed = seed_;
    const dyn::TransitionEstimate tr = dyn::estimate_transitions(sequences, ts);
    dyn::DiffusionSpec ds;
    ds.hop_A = lattice_A_;
    ds.frame_time_s = m.frame_time_s;
    ds.bootstrap = bootstrap_;
    ds.confidence = confidence_;
    ds.seed = seed_;
    ds.subtract_localisation_noise = subtract_noise_;
    const dyn::DiffusionEstimate d = dyn::estimate_diffusion(dyn::vacancy_observations(rows), ds);
    const double hops = dyn::hop_rate_from_moved_fraction(d.moved_fraction, d.steps);

    const io::h5::Group& g = out.group();
    write_defect_table(g, t);
    const std::vector<std::string> names = complex_names(t);
    g.set_attr("lattice_constant_A", lattice_A_);
    g.write_strings("complex_names", names);
    g.write_array("class_populations", classes, {T, C}).set_attr("meaning", "[frame, class]: defects of each class detected in the frame");
    g.write_array("complex_populations", complexes, {T, kComplexes}).set_attr("meaning", "[frame, complex]: dopants in each complex (known ones)");
    if (m.dose_e_per_A2 > 0) {
      std::vector<double> dose(static_cast<std::size_t>(T));
      for (std::int64_t f = 0; f < T; ++f) dose[std::size_t(f)] = double(f) * m.dose_e_per_A2;
      g.write_vector("cumulative_dose_e_per_A2", dose).set_attr("meaning", "dose received before frame k: k x the dose per frame");
    }
    g.write_array("transition_matrix", tr.probability, {kComplexes, kComplexes})
        .set_attr("meaning", "P[from, to] per frame step, row-normalised transition_counts (NaN: a row without steps)");
    g.write_array("transition_counts", tr.counts, {kComplexes, kComplexes}).set_attr("meaning", "[from, to]: frame steps of dopant tracks, both ends known");
    g.write_array("transition_counts_per_step", dyn::transition_counts_per_step(sequences, kComplexes, int(std::max<std::int64_t>(0, T - 1))),
                  {std::max<std::int64_t>(0, T - 1), kComplexes, kComplexes});
    g.write_array("transition_lower", tr.lower, {kComplexes, kComplexes}).set_attr("confidence", confidence_);
    g.write_array("transition_upper", tr.upper, {kComplexes, kComplexes}).set_attr("confidence", confidence_);
    g.set_attr("transition_sequences", tr.sequences);
    g.set_attr("smooth_frames", std::int64_t(smooth_frames_));
    g.write_scalar("diffusion_A2_per_frame", d.D_A2_per_frame).set_attr("meaning", "D = <|dr|^2>/4 of isolated-vacancy one-frame steps");
    g.write_array("diffusion_interval_A2_per_frame", std::vector<double>{d.lower, d.upper}, {2}).set_attr("confidence", confidence_);
    g.write_scalar_int("diffusion_steps", d.steps);
    g.write_scalar_int("diffusion_tracks", d.tracks);
    g.write_scalar("localisation_noise_A2", d.localisation_noise_A2)
        .set_attr("meaning", std::string("mean |dr|^2 of the steps that stay on their site: 4 sigma^2 of the positions") +
                                 (subtract_noise_ ? ", subtracted before D" : ", not subtracted"));
    g.write_scalar("hop_rate_per_frame", hops).set_attr("meaning", "hops per frame of an isolated vacancy (all six directions): -ln(1 - moved fraction)");
    if (m.frame_time_s > 0) {
      g.write_scalar("diffusion_A2_per_s", d.D_A2_per_s);
      g.write_array("diffusion_interval_A2_per_s", std::vector<double>{d.lower_per_s, d.upper_per_s}, {2}).set_attr("confidence", confidence_);
      g.write_scalar("hop_rate_per_s", hops / m.frame_time_s);
    }
    if (ctx.comm.is_root())
      log::info("kinetics: ", sequences.size(), " dopant tracks, ", tr.sequences, " with steps; D = ", str::number(d.D_A2_per_frame), " [",
                str::number(d.lower), ", ", str::number(d.upper), "] A^2 per frame from ", d.steps, " steps of ", d.tracks, " vacancy tracks");
    if (!figures_.empty())
      par::collectively(ctx.comm, [&] {
        if (ctx.comm.is_root()) write_figures(ctx, t, classes, complexes, names, tr);
      });
  }

 private:
  std::vector<std::string> complex_names(const DefectTable& t) const {
    const std::string dopant = t.class_names[2], v = t.class_names[0];
    return {dopant, dopant + "+" + v, dopant + "+2" + v, dopant + "+3" + v};
  }

  void write_figures(const StageContext& ctx, const DefectTable& t, const std::vector<std::int64_t>& classes, const std::vector<std::int64_t>& complexes,
                     const std::vector<std::string>& names, const dyn::TransitionEstimate& tr) const {
    namespace fs = std::filesystem;
    const fs::path dir = figures_ == "auto" ? fs::absolute(ctx.output.file).parent_path() / "figures" : fs::path(figures_);
    fs::create_directories(dir);
    const std::string stem = fs::path(ctx.output.file).stem().string();
    const MovieFacts& m = t.movie;
    const std::int64_t T = m.frames, C = std::int64_t(t.class_names.size());
    // Populations versus frame, and versus the dose when it is known.
    auto chart = [&](const std::string& title, const std::vector<std::int64_t>& counts, std::int64_t width, const std::vector<std::string>& labels, bool dose) {
      io::plot::Chart c;
      c.title = title, c.x_label = dose ? "dose (e/A^2)" : "frame", c.y_label = "defects in the frame", c.integer_x = !dose;
      for (std::int64_t k = 0; k < width; ++k) {
        io::plot::Series s{labels[std::size_t(k)], {}, {}, io::plot::series_colour(int(k))};
        for (std::int64_t f = 0; f < T; ++f) {
          s.x.push_back(dose ? double(f) * m.dose_e_per_A2 : double(f));
          s.y.push_back(double(counts[std::size_t(f * width + k)]));
        }
        s.markers = T < 40;
        c.series.push_back(s);
      }
      return c;
    };
    std::vector<io::plot::Chart> charts{chart("defect classes", classes, C, t.class_names, false), chart("dopant complexes", complexes, kComplexes, names, false)};
    if (m.dose_e_per_A2 > 0) {
      charts.push_back(chart("defect classes vs dose", classes, C, t.class_names, true));
      charts.push_back(chart("dopant complexes vs dose", complexes, kComplexes, names, true));
    }
    io::plot::write_charts((dir / (stem + "_populations.png")).string(), charts, "populations",
                           "Defects detected in each frame by class, and dopants in each complex (the chalcogen atoms missing among the six it is "
                           "bonded to), versus frame" + std::string(m.dose_e_per_A2 > 0 ? " and versus the dose received before the frame" : "") + ".");
    write_graph((dir / (stem + "_transitions.png")).string(), names, complexes, tr);
  }

  // Complexes on a circle (disc area ~ mean population), an arrow i -> j for every P_ij > 0 (i != j)
  // whose width grows with P_ij; each direction of a pair drawn on its own side of the line.
  void write_graph(const std::string& path, const std::vector<std::string>& names, const std::vector<std::int64_t>& complexes,
                   const dyn::TransitionEstimate& tr) const {
    const int S = 240;
    io::plot::Panel panel;
    panel.title = "transitions per frame";
    panel.image.height = panel.image.width = S;
    panel.image.rgb.assign(std::size_t(3 * S * S), 255);
    panel.scale_bar = false;
    panel.x = {"", "", 0, 1};
    panel.y = {"", "", 0, 1};
    std::vector<double> mean(kComplexes, 0), cx(kComplexes), cy(kComplexes);
    double most = 0;
    const std::size_t frames = complexes.size() / kComplexes;
    for (std::size_t f = 0; f < frames; ++f)
      for (int c = 0; c < kComplexes; ++c) mean[std::size_t(c)] += double(complexes[f * kComplexes + std::size_t(c)]) / double(frames);
    for (double v : mean) most = std::max(most, v);
    for (int c = 0; c < kComplexes; ++c) {
      const double angle = M_PI * (0.75 - 0.5 * c);  // top-left, top-right, bottom-right, bottom-left
      cx[std::size_t(c)] = S / 2.0 + 0.32 * S * std::cos(angle);
      cy[std::size_t(c)] = S / 2.0 - 0.32 * S * std::sin(angle);
    }
    std::string listing;
    for (int i = 0; i < kComplexes; ++i)
      for (int j = 0; j < kComplexes; ++j) {
        const double P = tr.at(tr.probability, i, j);
        if (!std::isfinite(P)) continue;
        listing += (listing.empty() ? "" : "; ") + names[std::size_t(i)] + " -> " + names[std::size_t(j)] + " " + str::number(std::round(P * 1000) / 1000);
        if (i == j || P <= 0) continue;
        const double dx = cx[std::size_t(j)] - cx[std::size_t(i)], dy = cy[std::size_t(j)] - cy[std::size_t(i)], L = std::hypot(dx, dy);
        const double ux = dx / L, uy = dy / L, nx = -uy, ny = ux, side = 5;
        const double x0 = cx[std::size_t(i)] + 22 * ux + side * nx, y0 = cy[std::size_t(i)] + 22 * uy + side * ny;
        const double x1 = cx[std::size_t(j)] - 22 * ux + side * nx, y1 = cy[std::size_t(j)] - 22 * uy + side * ny;
        const io::Rgb colour = io::plot::series_colour(i);
        const double width = 1 + 12 * std::sqrt(P);
        panel.marks.push_back({io::plot::Mark::Kind::line, x0, y0, x1, y1, 0, colour, width, false});
        for (double turn : {2.6, -2.6}) {  // the arrow head
          const double hx = ux * std::cos(turn) - uy * std::sin(turn), hy = ux * std::sin(turn) + uy * std::cos(turn);
          panel.marks.push_back({io::plot::Mark::Kind::line, x1, y1, x1 + 10 * hx, y1 + 10 * hy, 0, colour, width, false});
        }
      }
    io::plot::Legend legend{"complex (mean count)", {}};
    for (int c = 0; c < kComplexes; ++c) {
      const double r = 6 + 14 * (most > 0 ? std::sqrt(mean[std::size_t(c)] / most) : 0);
      panel.marks.push_back({io::plot::Mark::Kind::circle, cx[std::size_t(c)], cy[std::size_t(c)], 0, 0, r, io::plot::series_colour(c), 1.5, true});
      legend.entries.push_back({io::plot::series_colour(c), names[std::size_t(c)] + " (" + str::number(std::round(mean[std::size_t(c)] * 10) / 10) + ")"});
    }
    panel.legend = legend;
    io::plot::write_figure(path, panel,
                           "Transition graph of the dopant complexes: discs (area ~ the mean number of dopants in the complex per frame) and an "
                           "arrow from each complex to each other one it turns into between consecutive frames, wider for a larger probability "
                           "(colour of the start). Per-frame probabilities: " + (listing.empty() ? std::string("none (no dopant tracks)") : listing) + ".");
  }

  int bootstrap_ = 1000, smooth_frames_ = 1;
  double confidence_ = 0.95, frame_time_ = -1, dose_ = -1, a_A_ = 0, lattice_A_ = 0;
  std::string material_, figures_;
  std::uint64_t seed_ = 1;
  bool subtract_noise_ = true;
  DefectTable table_;
};

}  // namespace

std::unique_ptr<Stage> make_kinetics_stage() { return std::make_unique<Kinetics>(); }

}  // namespace tmdflow::stages
