// Stage simulate-movie: a STEM movie of point-defect dynamics in a doped MX2 monolayer under the
// beam (issue #18) -- a kinetic Monte Carlo of sputtering and vacancy hops (sim/movie_kmc.hpp),
// rendered frame by frame with the incoherent ADF model, drift, jitter and counting noise
// (sim/movie_render.hpp) -- with the ground truth beside the frames (sim/movie_truth*.hpp). The
// trajectory is sequential and cheap: every rank computes the same one; the frames are sharded over
// the ranks. The product reads like an ingested movie (movie/1 = image_stack/1 plus truth/).
#include <cmath>

#include "sim_options.hpp"
#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/analysis/dynamics/diffusion.hpp"
#include "tmdflow/analysis/dynamics/transition_matrix.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/timer.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"
#include "tmdflow/sim/movie_render.hpp"
#include "tmdflow/sim/movie_truth_io.hpp"
#include "tmdflow/sim/structure_io.hpp"

namespace tmdflow::stages {
namespace {

namespace dyn = analysis::dynamics;
constexpr int kTruthBootstrap = 1000;

class SimulateMovie : public Stage {
 public:
  std::string name() const override { return "simulate-movie"; }
  std::string summary() const override { return "STEM movie of vacancy and dopant dynamics in an MX2 monolayer (kinetic Monte Carlo), with ground truth"; }
  std::string description() const override {
    return "A kinetic Monte Carlo of a doped MX2 monolayer under the beam: chalcogen atoms sputtered at sigma x dose (exit surface;\n"
           "entrance surface and atoms bonded to a dopant scaled by ratios), vacancies hopping to neighbouring chalcogen sites at\n"
           "Metropolis rates Gamma0 min(1, exp(-dE/kT)) with binding to dopants, to neighbouring vacancies, of double vacancies\n"
           "and (optionally) in lines. Rendered frame by frame (incoherent ADF model) with drift across and within frames, line\n"
           "jitter and Poisson noise at the dose per frame. Writes images (frames, y, x) float32 as image_stack/1 does, so later\n"
           "stages read it like an ingested movie, and truth/: every defect (V_S, V_S2, dopant with its complex Mo .. Mo+3V_S) and\n"
           "vacancy per frame with position and identity, every event, the true transition counts and the hop rates. Schema\n"
           "movie/1; the model and the product: data_schema/dynamics.md. Deterministic in --seed for any number of ranks.";
  }
  std::string product_schema() const override { return "movie/1"; }
  std::string default_group() const override { return "/movie"; }
  bool takes_input() const override { return false; }

  void declare(Options& o) override {
    auto& k = kmc_;
    o.add<std::string>("material", &material_, "WS2", "MX2 compound (MoS2, WS2, MoSe2, WSe2)")
        .add<double>("phi-deg", &phi_, 30.0, "orientation of the layer [degrees] (data_schema/structures.md)")
        .add<std::string>("dopant", &dopant_, "Mo:0.02", "dopant on metal sites ELEMENT:FRACTION (fraction of metal sites; Mo:0 for none)")
        .add<int>("frames", &k.frames, 20, "frames of the movie")
        .add<std::string>("size", &size_, "512,512", "frame pixels ny,nx")
        .add<double>("pixel-A", &movie_.adf.pixel_A, 0.1, "probe step [Angstrom]")
        .add<double>("frame-time-s", &frame_time_, 0.0, "time between frames [s] (0: unknown; recorded, and gives rates per second)")
        .add<double>("dose-e-per-A2", &k.dose_e_per_A2, 1e5, "electron dose per frame [e/A^2]: drives sputtering and the counting noise")
        .add<bool>("counting-noise", &noise_, true, "Poisson noise at the dose (false: noise-free fractions of the beam)")
        .add<double>("read-noise", &movie_.read_noise, 0.0, "read noise [detected electrons rms per pixel]")
        .add<std::string>("drift-A-per-frame", &drift_, "0,0", "sample drift dx,dy [Angstrom per frame]: the content moves this much per frame")
        .add<double>("jitter-A", &movie_.jitter_A, 0.0, "scan-line jitter along x, rms [Angstrom]")
        .add<double>("sputter-barn", &k.sputter_barn, 1.0, "sputtering cross-section of an exit-surface chalcogen atom [barn = 1e-8 A^2]")
        .add<double>("sputter-entrance-ratio", &k.sputter_entrance_ratio, 0.3, "cross-section of an entrance-surface (top) atom / an exit one")
        .add<double>("sputter-dopant-ratio", &k.sputter_dopant_ratio, 1.0, "cross-section of an atom bonded to a dopant / a host-bonded one")
        .add<double>("hop-rate-per-frame", &k.hop_rate_per_frame, 0.02, "Gamma0: hop rate of a free vacancy per direction (six) [1/frame]")
        .add<double>("kT-eV", &k.kT_eV, 0.1, "effective temperature of the beam-driven hops [eV]")
        .add<double>("bind-dopant-eV", &k.bind_dopant_eV, 0.2, "binding of a vacancy to each dopant it is bonded to [eV]")
        .add<double>("bind-vacancy-eV", &k.bind_vacancy_eV, 0.1, "binding of two vacancies in neighbouring columns, same surface [eV]")
        .add<double>("bind-double-eV", &k.bind_double_eV, 0.1, "binding of the two vacancies of a double vacancy (one column) [eV]")
        .add<double>("line-eV", &k.line_eV, 0.0, "binding of three vacancies in a row, same surface [eV] (> 0: vacancy lines)")
        .add<double>("initial-single-vacancy", &k.initial_single_vacancy, 0.0, "fraction of chalcogen columns missing one atom at frame 0")
        .add<double>("initial-double-vacancy", &k.initial_double_vacancy, 0.0, "fraction of chalcogen columns missing both atoms at frame 0")
        .add<double>("inner-mrad", &movie_.adf.inner_mrad, 80.0, "ADF detector inner angle [mrad]")
        .add<double>("outer-mrad", &movie_.adf.outer_mrad, 200.0, "ADF detector outer angle [mrad]")
        .add<std::uint64_t>("seed", &k.seed, 1, "random seed (structure, trajectory, distortion, noise)");
    declare_probe(o, movie_.adf.probe, 100.0, 30.0);
  }

  void validate(const StageContext&) override {
    const auto s = str::to_int_list(size_, "size");
    if (s.size() != 2 || s[0] <= 0 || s[1] <= 0) throw ConfigError("size: expected two positive integers ny,nx, found '" + size_ + "'");
    movie_.adf.ny = int(s[0]);
    movie_.adf.nx = int(s[1]);
    if (kmc_.frames < 1 || kmc_.frames > 100000) throw ConfigError("frames: expected 1 to 100000, found " + std::to_string(kmc_.frames));
    const auto d = str::to_double_list(drift_, "drift-A-per-frame");
    if (d.size() != 2) throw ConfigError("drift-A-per-frame: expected two numbers dx,dy, found '" + drift_ + "'");
    movie_.drift_x_A = d[0];
    movie_.drift_y_A = d[1];
    if (!(frame_time_ >= 0 && std::isfinite(frame_time_))) throw ConfigError("frame-time-s: expected 0 (unknown) or a positive number, found " + Options::text(frame_time_));
    if (!(movie_.read_noise >= 0)) throw ConfigError("read-noise: expected a value >= 0, found " + Options::text(movie_.read_noise));
    if (!std::isfinite(phi_)) throw ConfigError("phi-deg: expected a finite angle");
    if (sim::layer_cell(material_).triclinic) throw ConfigError("material: expected an MX2 compound (MoS2, WS2, MoSe2, WSe2), found " + material_);
    const auto f = parse_fractions(dopant_, "dopant");
    if (f.size() != 1) throw ConfigError("dopant: expected one ELEMENT:FRACTION, found '" + dopant_ + "'");
    dopant_Z_ = f.begin()->first;
    dopant_fraction_ = f.begin()->second;
    if (dopant_Z_ == sim::material(material_).metal_Z && dopant_fraction_ > 0)
      throw ConfigError("dopant: expected an element other than the host metal " + sim::element_symbol(dopant_Z_) + ", found '" + dopant_ + "'");
    sim::validate(kmc_);
    movie_.frames = kmc_.frames;
    movie_.dose_e_per_A2 = noise_ ? kmc_.dose_e_per_A2 : 0.0;
    movie_.seed = kmc_.seed;
    geometry_ = sim::movie_geometry(movie_);
    sim::AdfSimulator check(movie_.adf);  // sampling, detector and probe, before any work
  }

  std::uint64_t planned_bytes(const StageContext&) const override {
    return std::uint64_t(kmc_.frames) * std::uint64_t(movie_.adf.ny) * std::uint64_t(movie_.adf.nx) * sizeof(float);
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    // The model, the same on every rank.
    const sim::Structure structure = build_structure();
    const sim::Material& m = sim::material(material_);
    const sim::DefectLattice lattice = sim::defect_lattice(structure, m, phi_);
    const auto dopants = sim::lattice_dopants(lattice, structure);
    std::int32_t dopant_count = 0;
    for (auto v : dopants) dopant_count += v;
    const Stopwatch clock;
    sim::DefectKmc kmc(lattice, dopants, kmc_, dopant_count);
    const sim::KmcTrajectory trajectory = kmc.run();
    log::info("simulate-movie: ", lattice.chalcogens(), " chalcogen sites, ", dopant_count, " dopants, ", trajectory.initial_vacancies,
              " vacancies at frame 0; ", trajectory.events.size(), " events over ", kmc_.frames, " frames (trajectory in ",
              str::number(clock.seconds()), " s)");

    // Frames, sharded over the ranks.
    io::ImageStackWriter writer(out.group(), image_meta());
    write_frames(ctx, writer, structure, lattice, trajectory);

    // Ground truth.
    const sim::MovieTruth truth(lattice, structure, dopants);
    const sim::MovieTruthTables tables = sim::movie_truth_tables(truth, geometry_, trajectory);
    const io::h5::Group g = out.group().create_group("truth");
    write_model(g, m);
    sim::write_movie_truth(g, tables, trajectory, lattice, structure, geometry_);
    write_truth_kinetics(g, tables, trajectory, m);
    sim::write_structure(g, structure, false);
  }

 private:
  sim::Structure build_structure() const {
    sim::StackSpec k;
    k.material = material_;
    k.layers = 1;
    k.phi_deg = phi_;
    k.defects.dopant_Z = dopant_Z_;
    k.defects.dopant_fraction = dopant_fraction_;
    k.extent_x = geometry_.extent_x;
    k.extent_y = geometry_.extent_y;
    k.seed = kmc_.seed;
    return sim::build_stack(k);
  }

  io::ImageStackMeta image_meta() const {
    io::ImageStackMeta meta;
    meta.frames = kmc_.frames;
    meta.height = movie_.adf.ny;
    meta.width = movie_.adf.nx;
    meta.dtype = io::Dtype::f32;
    meta.pixel_size_y_A = meta.pixel_size_x_A = movie_.adf.pixel_A;
    meta.frame_time_s = frame_time_;
    meta.acquisition = {{"voltage_kV", movie_.adf.probe.voltage_kV},
                        {"convergence_mrad", movie_.adf.probe.convergence_mrad},
                        {"detector_inner_mrad", movie_.adf.inner_mrad},
                        {"detector_outer_mrad", movie_.adf.outer_mrad},
                        {"dose_e_per_A2", kmc_.dose_e_per_A2}};
    for (int f = 0; f < kmc_.frames; ++f) {
      meta.source_file.push_back("simulate-movie");
      meta.title.push_back("frame " + std::to_string(f));
      meta.frame_in_source.push_back(f);
    }
    return meta;
  }

  void write_frames(const StageContext& ctx, const io::ImageStackWriter& writer, const sim::Structure& structure, const sim::DefectLattice& lattice,
                    const sim::KmcTrajectory& trajectory) const {
    const par::Range mine = par::block_partition(kmc_.frames, ctx.comm.size(), ctx.comm.rank());
    const std::int64_t steps = ctx.comm.allreduce(mine.size(), par::Op::max);
    std::unique_ptr<sim::MovieRenderer> renderer;
    std::vector<float> frame;
    par::collectively(ctx.comm, [&] {
      renderer = std::make_unique<sim::MovieRenderer>(movie_, geometry_, structure, lattice);
      frame.resize(std::size_t(movie_.adf.ny) * std::size_t(movie_.adf.nx));
    });
    par::Progress progress(ctx.comm, "simulate-movie", std::uint64_t(kmc_.frames), "frames");
    for (std::int64_t k = 0; k < steps; ++k) {
      par::collectively(ctx.comm, [&] {
        const std::int64_t f = mine.begin + k;
        if (f >= mine.end) return;
        par::inject_fault(ctx.comm, "block-write");
        renderer->render(int(f), trajectory.frames[std::size_t(f)], frame.data());
        writer.write_frames(f, 1, frame.data());
        progress.advance(1);
      });
    }
    progress.finish();
  }

  void write_model(const io::h5::Group& g, const sim::Material& m) const {
    g.set_attr("material", material_);
    g.set_attr("lattice_constant_A", m.a);
    g.set_attr("phi_deg", phi_);
    g.set_attr("dopant", dopant_fraction_ > 0 ? sim::element_symbol(dopant_Z_) : std::string(""));
    g.set_attr("dopant_fraction", dopant_fraction_);
    g.set_attr("image_origin_x_A", geometry_.x0);
    g.set_attr("image_origin_y_A", geometry_.y0);
    g.set_attr("pixel_A", geometry_.pixel_A);
    g.set_attr("drift_x_A_per_frame", geometry_.drift_x_A);
    g.set_attr("drift_y_A_per_frame", geometry_.drift_y_A);
    g.set_attr("pixel_rule",
               "frame k's pixel (i, j) shows the structure at x = image_origin_x_A + j pixel_A - (k + t) drift_x_A_per_frame, y likewise, "
               "t = (i nx + j) / (ny nx - 1) (before jitter); truth x_px, y_px invert it");
    g.write_strings("class_names", sim::defect_class_names(m.chalcogen_Z, dopant_Z_));
    g.write_strings("complex_names", sim::complex_names(m.chalcogen_Z, dopant_Z_));
  }

  void write_truth_kinetics(const io::h5::Group& g, const sim::MovieTruthTables& tables, const sim::KmcTrajectory& trajectory,
                            const sim::Material& m) const {
    // True transition counts between the complexes of the dopants in the field at both frames.
    const auto sequences = sim::complex_sequences(tables);
    const int C = sim::kComplexes, steps = std::max(0, tables.frames - 1);
    g.write_array("transition_counts", dyn::transition_counts_per_step(sequences, C, steps), {steps, C, C})
        .set_attr("meaning", "[step, from, to]: dopants in the field at frames step and step + 1, complex from -> to");
    dyn::TransitionSpec ts;
    ts.states = C;
    ts.bootstrap = kTruthBootstrap;
    ts.seed = kmc_.seed;
    const auto est = dyn::estimate_transitions(sequences, ts);
    g.write_array("transition_counts_total", est.counts, {C, C});
    g.write_array("transition_matrix", est.probability, {C, C}).set_attr("meaning", "row-normalised transition_counts_total (NaN: no steps)");
    g.write_array("transition_lower", est.lower, {C, C}).set_attr("confidence", ts.confidence);
    g.write_array("transition_upper", est.upper, {C, C}).set_attr("confidence", ts.confidence);

    // Rates of the model, what happened, and D measured on the true positions as the issue defines it.
    const io::h5::Group r = g.create_group("rates");
    const double barn = 1e-8;
    std::int64_t hops = 0, sputtered = 0;
    for (const auto& e : trajectory.events) (e.kind == sim::KmcEventKind::hop ? hops : sputtered) += 1;
    const double d_model = dyn::isolated_walk_diffusion(kmc_.hop_rate_per_frame, m.a);
    r.set_attr("hop_rate_per_frame", kmc_.hop_rate_per_frame);
    r.set_attr("isolated_hop_rate_per_frame", 6 * kmc_.hop_rate_per_frame);
    r.set_attr("isolated_diffusion_A2_per_frame", d_model);
    r.set_attr("sputter_probability_exit_per_frame", kmc_.sputter_barn * barn * kmc_.dose_e_per_A2);
    r.set_attr("sputter_probability_entrance_per_frame", kmc_.sputter_barn * barn * kmc_.dose_e_per_A2 * kmc_.sputter_entrance_ratio);
    r.set_attr("kT_eV", kmc_.kT_eV);
    r.set_attr("bind_dopant_eV", kmc_.bind_dopant_eV);
    r.set_attr("bind_vacancy_eV", kmc_.bind_vacancy_eV);
    r.set_attr("bind_double_eV", kmc_.bind_double_eV);
    r.set_attr("line_eV", kmc_.line_eV);
    r.set_attr("hops", hops);
    r.set_attr("sputtered", sputtered);
    r.set_attr("initial_vacancies", trajectory.initial_vacancies);
    r.set_attr("vacancy_frames", trajectory.vacancy_frames);
    r.set_attr("hops_per_vacancy_frame", trajectory.vacancy_frames > 0 ? double(hops) / trajectory.vacancy_frames : 0.0);
    if (frame_time_ > 0) r.set_attr("isolated_diffusion_A2_per_s", d_model / frame_time_);

    std::vector<dyn::VacancyObservation> obs;
    obs.reserve(tables.vacancies.size());
    for (std::size_t k = 0; k < tables.vacancies.size(); ++k) {
      const auto& v = tables.vacancies[k];
      const auto& p = tables.vacancy_px[k];
      obs.push_back({v.id, v.frame, v.x_A, v.y_A, v.isolated, geometry_.edge_distance_A(p.col, p.row)});
    }
    dyn::DiffusionSpec ds;
    ds.hop_A = m.a;
    ds.frame_time_s = frame_time_;
    ds.bootstrap = kTruthBootstrap;
    ds.seed = kmc_.seed;
    const auto d = dyn::estimate_diffusion(obs, ds);
    g.write_scalar("diffusion_A2_per_frame", d.D_A2_per_frame).set_attr("meaning", "D = <|dr|^2>/4 of the true isolated-vacancy steps");
    g.write_array("diffusion_interval_A2_per_frame", std::vector<double>{d.lower, d.upper}, {2}).set_attr("confidence", ds.confidence);
    g.write_scalar_int("diffusion_steps", d.steps);
    if (frame_time_ > 0) g.write_scalar("diffusion_A2_per_s", d.D_A2_per_s);
  }

  sim::KmcSpec kmc_;
  sim::MovieSpec movie_;
  sim::MovieGeometry geometry_;
  std::string material_, dopant_, size_, drift_;
  double phi_ = 30, frame_time_ = 0, dopant_fraction_ = 0;
  int dopant_Z_ = 0;
  bool noise_ = true;
};

}  // namespace

std::unique_ptr<Stage> make_simulate_movie_stage() { return std::make_unique<SimulateMovie>(); }

}  // namespace tmdflow::stages
