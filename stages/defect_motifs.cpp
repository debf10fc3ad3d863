// Stage defect-motifs: the local structure around every detected defect, two ways (issue #18,
// item 4; data_schema/dynamics.md).
//  * Motifs without labels (Maksov et al. 2019): a patch around each defect (analysis/dynamics/
//    patches.hpp; the frames shard over the ranks), PCA of the patches, a Gaussian mixture of the
//    PCA scores with the number of classes chosen by BIC (cluster/), each class's mean patch on a
//    PNG sheet.
//  * Named complexes from the lattice geometry (analysis/dynamics/neighbourhood.hpp): each dopant's
//    complex by the chalcogen atoms missing among its six bonds (Mo, Mo+V_S, Mo+2V_S, Mo+3V_S), and
//    whether each single vacancy is isolated (the diffusion estimator's condition).
// Input: tracks/1 (track-defects) and the movie; product motifs/1.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "defect_table.hpp"
#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/analysis/dynamics/neighbourhood.hpp"
#include "tmdflow/analysis/dynamics/patches.hpp"
#include "tmdflow/cluster/gmm.hpp"
#include "tmdflow/cluster/pca.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/io/plot.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/gather.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/sim/movie_truth.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::stages {
namespace {

namespace dyn = analysis::dynamics;

class DefectMotifs : public Stage {
 public:
  std::string name() const override { return "defect-motifs"; }
  std::string summary() const override { return "motif classes of the defects (patches, PCA, Gaussian mixture by BIC) and the named dopant complexes"; }
  std::string description() const override {
    return "Input: the tracks/1 product of track-defects and the movie (its source, or --images). Motifs: a patch of --patch-A\n"
           "(--patch-px samples a side) around every defect, standardised by its frame's mean and standard deviation; PCA\n"
           "(--components); Gaussian mixtures of 1 .. --max-motifs components (full covariances) fitted to the scores and the one\n"
           "of least BIC kept; each defect's motif is its most responsible component; a PNG sheet shows each motif's mean patch.\n"
           "Complexes, from the lattice geometry (lattice constant of --material, or --lattice-constant-A): a dopant's complex\n"
           "counts the chalcogen atoms missing among its six bonds, i.e. the vacancies detected within 1.5 a/sqrt(3) of it (V_S\n"
           "one, V_S2 two): Mo, Mo+V_S, Mo+2V_S, Mo+3V_S (3 or more); -1 when a bonded column may lie outside the frame. A single\n"
           "vacancy is isolated when no dopant lies within 1.5 a/sqrt(3) and no vacancy within (1 + sqrt(3)) a / 2. Writes the\n"
           "table with complex, missing, isolated and motif, the motifs' mean patches, sizes and BIC; schema motifs/1.";
  }
  std::string product_schema() const override { return "motifs/1"; }
  std::string default_group() const override { return "/motifs"; }
  bool validate_reads_input() const override { return true; }

  void declare(Options& o) override {
    o.add<std::string>("images", &images_, "", "the movie (FILE.h5[:/group]); empty: the one detect-defects read")
        .add<double>("patch-A", &patch_A_, 6.4, "side of the patch around each defect [Angstrom]")
        .add<int>("patch-px", &patch_px_, 32, "samples per side of a patch")
        .add<int>("components", &components_, 10, "principal components of the patches the mixture sees")
        .add<int>("max-motifs", &max_motifs_, 8, "largest number of motif classes tried (BIC chooses 1 .. this)")
        .add<std::string>("material", &material_, "WS2", "MX2 compound whose lattice constant gives the neighbour shells")
        .add<double>("lattice-constant-A", &a_A_, 0.0, "lattice constant [Angstrom] (0: that of --material)")
        .add<std::uint64_t>("seed", &seed_, 1, "random seed (k-means initialisation of the mixtures)")
        .add<std::string>("figures", &figures_, "auto", "folder for the motif sheet PNG (auto: figures/ beside the output; empty: none)");
  }

  void validate(const StageContext& ctx) override {
    require_positive("patch-A", patch_A_);
    if (patch_px_ < 4 || patch_px_ > 128) throw ConfigError("patch-px: expected 4 to 128, found " + std::to_string(patch_px_));
    if (components_ < 1 || components_ > 64) throw ConfigError("components: expected 1 to 64, found " + std::to_string(components_));
    if (max_motifs_ < 1 || max_motifs_ > 32) throw ConfigError("max-motifs: expected 1 to 32, found " + std::to_string(max_motifs_));
    if (a_A_ < 0) throw ConfigError("lattice-constant-A: expected 0 (from --material) or a positive length");
    lattice_A_ = a_A_ > 0 ? a_A_ : sim::material(material_).a;
    table_ = read_defect_table(ctx.input, "/tracks", "tracks");
    const MovieFacts& m = table_.movie;
    movie_ = checked_movie(ctx.input, images_, m);
  }

  std::vector<std::string> extra_inputs() const override { return movie_.empty() ? std::vector<std::string>{} : std::vector<std::string>{movie_}; }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    DefectTable t = table_;
    classify_neighbourhoods(t);
    const Motifs motifs = find_motifs(ctx, t);
    t.motif = motifs.label;
    t.classified = true;
    const io::h5::Group& g = out.group();
    write_defect_table(g, t);
    g.set_attr("images", movie_);
    g.set_attr("lattice_constant_A", lattice_A_);
    g.set_attr("patch_A", patch_A_);
    g.set_attr("motif_count", std::int64_t(motifs.count));
    const std::vector<std::string> complexes = complex_names(t);
    g.write_strings("complex_names", complexes);
    const int K = motifs.count, P = patch_px_;
    if (K > 0) {
      g.write_array("motif_mean_patches", motifs.mean, {K, P, P}).set_attr("meaning", "mean standardised patch of each motif (frame mean 0, sd 1)");
      g.write_vector("motif_sizes", motifs.size);
      g.write_array("motif_classes", motifs.classes, {K, std::int64_t(t.class_names.size())})
          .set_attr("meaning", "[motif, detector class]: defects of each class in each motif");
      g.write_vector("bic", motifs.bic).set_attr("meaning", "BIC of the mixture of 1, 2, ... components (the least is kept)");
      g.write_vector("pca_eigenvalues", motifs.eigenvalues);
    }
    if (ctx.comm.is_root()) {
      std::vector<std::int64_t> n(4, 0);
      for (auto c : t.complex)
        if (c >= 0) ++n[std::size_t(c)];
      log::info("defect-motifs: ", K, " motifs (BIC) among ", t.size(), " defects; dopant complexes ", complexes[0], " ", n[0], ", ", complexes[1], " ",
                n[1], ", ", complexes[2], " ", n[2], ", ", complexes[3], " ", n[3]);
    }
    if (!figures_.empty() && K > 0)
      par::collectively(ctx.comm, [&] {
        if (ctx.comm.is_root()) write_sheet(ctx, t, motifs);
      });
  }

 private:
  struct Motifs {
    int count = 0;
    std::vector<std::int32_t> label;        // per row
    std::vector<float> mean;                // count x P x P
    std::vector<std::int64_t> size, classes;  // count; count x classes
    std::vector<double> bic, eigenvalues;
  };

  std::vector<std::string> complex_names(const DefectTable& t) const {
    const std::string dopant = t.class_names.size() == 3 ? t.class_names[2] : "dopant";
    const std::string v = t.class_names.size() == 3 ? t.class_names[0] : "V_S";
    return {dopant, dopant + "+" + v, dopant + "+2" + v, dopant + "+3" + v};
  }

  void classify_neighbourhoods(DefectTable& t) const {
    const double p = t.movie.pixel_size_A;
    dyn::NeighbourhoodSpec spec;
    spec.a_A = lattice_A_;
    // The field where defects are reported (the frame less the detector's edge margin): a dopant's
    // complex is unknown when one of its columns may lie outside it.
    const double margin = t.movie.edge_margin_A;
    spec.width_A = double(t.movie.width) * p - 2 * margin;
    spec.height_A = double(t.movie.height) * p - 2 * margin;
    t.complex.assign(t.size(), -1);
    t.missing.assign(t.size(), 0);
    t.isolated.assign(t.size(), 0);
    if (t.class_names.size() != 3) return;  // the classes of another detector: no lattice rules
    std::size_t k = 0;
    while (k < t.size()) {
      std::size_t end = k;
      std::vector<dyn::FrameDefect> frame;
      while (end < t.size() && t.frame[end] == t.frame[k]) {
        frame.push_back({(t.x_px[end] + 0.5) * p - margin, (t.y_px[end] + 0.5) * p - margin, t.defect_class[end]});
        ++end;
      }
      const auto n = dyn::neighbourhoods(frame, spec);
      for (std::size_t i = 0; i < n.size(); ++i) {
        t.complex[k + i] = std::int8_t(n[i].complex);
        t.missing[k + i] = std::int8_t(std::min(n[i].missing, 127));
        t.isolated[k + i] = n[i].isolated ? 1 : 0;
      }
      k = end;
    }
  }

  Motifs find_motifs(const StageContext& ctx, const DefectTable& t) const {
    Motifs r;
    const std::int64_t N = std::int64_t(t.size()), P = patch_px_, d = P * P;
    const MovieFacts& m = t.movie;
    r.label.assign(std::size_t(N), -1);
    // This rank's frames and the rows they hold (the table is sorted by frame).
    const par::Range frames = par::block_partition(m.frames, ctx.comm.size(), ctx.comm.rank());
    const auto first = std::lower_bound(t.frame.begin(), t.frame.end(), std::int32_t(frames.begin)) - t.frame.begin();
    const auto last = std::lower_bound(t.frame.begin(), t.frame.end(), std::int32_t(frames.end)) - t.frame.begin();
    const std::int64_t rows = last - first;
    cluster::Matrix x("tmdflow::motifs::patches", std::size_t(rows), std::size_t(d));
    auto host = Kokkos::create_mirror_view(x);
    par::collectively(ctx.comm, [&] {
      if (rows == 0) return;
      const io::ImageStackReader reader = io::ImageStackReader::open(movie_);
      std::vector<float> frame(std::size_t(m.height * m.width)), patch(static_cast<std::size_t>(d));
      const double step = patch_A_ / double(P) / m.pixel_size_A;
      std::int64_t loaded = -1;
      dyn::FrameStatistics stats;
      for (std::int64_t k = first; k < last; ++k) {
        if (t.frame[std::size_t(k)] != loaded) {
          loaded = t.frame[std::size_t(k)];
          reader.read_frames_as<float>(loaded, 1, frame.data());
          stats = dyn::frame_statistics(frame.data(), m.height, m.width);
        }
        dyn::extract_patch(frame.data(), m.height, m.width, t.x_px[std::size_t(k)], t.y_px[std::size_t(k)], step, int(P), stats, patch.data());
        for (std::int64_t j = 0; j < d; ++j) host(std::size_t(k - first), std::size_t(j)) = patch[std::size_t(j)];
      }
    });
    Kokkos::deep_copy(x, host);
    const int keep = int(std::min<std::int64_t>({components_, N - 1, d}));
    if (N < 10 || keep < 1) return r;  // too few defects to cluster
    const cluster::PcaResult pca = cluster::pca(ctx.comm, x, keep);
    r.eigenvalues.assign(pca.eigenvalues.begin(), pca.eigenvalues.begin() + keep);
    // The mixture with the least BIC; covariances regularised relative to the scores' spread.
    cluster::GmmSpec spec;
    spec.covariance = cluster::Covariance::full;
    spec.seed = seed_;
    spec.reg_covar = 1e-4 * std::max(1e-12, pca.eigenvalues[0]);
    cluster::GmmResult best;
    const int kmax = int(std::min<std::int64_t>(max_motifs_, std::max<std::int64_t>(1, N / (4 * keep))));
    for (int k = 1; k <= kmax; ++k) {
      spec.components = k;
      cluster::GmmResult fit = cluster::gmm(ctx.comm, pca.scores, first, N, spec);
      r.bic.push_back(fit.bic);
      if (k == 1 || fit.bic < best.bic) best = std::move(fit);
    }
    r.count = int(best.weights.size());
    auto labels = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), best.labels);
    std::vector<std::int32_t> mine(static_cast<std::size_t>(rows));
    for (std::int64_t k = 0; k < rows; ++k) mine[std::size_t(k)] = labels(std::size_t(k));
    r.label = par::allgather_rows(ctx.comm, mine);
    // Mean patches, sizes and detector classes per motif: sums over the ranks.
    const std::size_t C = t.class_names.size(), K = std::size_t(r.count);
    std::vector<double> sums(K * std::size_t(d), 0.0), counts(K * (C + 1), 0.0);
    for (std::int64_t k = 0; k < rows; ++k) {
      const auto c = std::size_t(mine[std::size_t(k)]);
      for (std::int64_t j = 0; j < d; ++j) sums[c * std::size_t(d) + std::size_t(j)] += host(std::size_t(k), std::size_t(j));
      counts[c * (C + 1)] += 1;
      counts[c * (C + 1) + 1 + std::size_t(t.defect_class[std::size_t(first + k)])] += 1;
    }
    ctx.comm.allreduce_inplace(sums.data(), sums.size(), par::Op::sum);
    ctx.comm.allreduce_inplace(counts.data(), counts.size(), par::Op::sum);
    r.mean.resize(sums.size());
    for (std::size_t c = 0; c < K; ++c) {
      const double n = counts[c * (C + 1)];
      r.size.push_back(std::int64_t(n));
      for (std::size_t j = 0; j < std::size_t(d); ++j) r.mean[c * std::size_t(d) + j] = float(n > 0 ? sums[c * std::size_t(d) + j] / n : 0.0);
      for (std::size_t q = 0; q < C; ++q) r.classes.push_back(std::int64_t(counts[c * (C + 1) + 1 + q]));
    }
    return r;
  }

  void write_sheet(const StageContext& ctx, const DefectTable& t, const Motifs& motifs) const {
    namespace fs = std::filesystem;
    const int P = patch_px_;
    const std::size_t C = t.class_names.size();
    io::plot::Figure fig;
    fig.title = "defect motifs (" + std::to_string(motifs.count) + " by BIC)";
    fig.columns = std::min(motifs.count, 4);
    fig.image_px = 160;
    std::vector<float> all(motifs.mean.begin(), motifs.mean.end());
    const io::ColourScale scale = io::robust_scale(all, 0.001, 0.999);
    for (int k = 0; k < motifs.count; ++k) {
      std::vector<float> patch(motifs.mean.begin() + std::ptrdiff_t(k) * P * P, motifs.mean.begin() + std::ptrdiff_t(k + 1) * P * P);
      std::size_t major = 0;
      for (std::size_t q = 1; q < C; ++q)
        if (motifs.classes[std::size_t(k) * C + q] > motifs.classes[std::size_t(k) * C + major]) major = q;
      const double share = motifs.size[std::size_t(k)] > 0 ? 100.0 * double(motifs.classes[std::size_t(k) * C + major]) / double(motifs.size[std::size_t(k)]) : 0;
      auto panel = io::plot::intensity_panel("motif " + std::to_string(k) + ": " + std::to_string(motifs.size[std::size_t(k)]) + ", " +
                                                 std::to_string(int(std::lround(share))) + "% " + t.class_names[major],
                                             patch, P, P, io::plot::scan_axes(patch_A_ / P, "A"), "standardised intensity", scale);
      if (k + 1 < motifs.count) panel.colour_bar.reset();
      fig.panels.push_back(panel);
    }
    const fs::path dir = figures_ == "auto" ? fs::absolute(ctx.output.file).parent_path() / "figures" : fs::path(figures_);
    fs::create_directories(dir);
    io::plot::write_figure((dir / (fs::path(ctx.output.file).stem().string() + "_motifs.png")).string(), fig,
                           "Mean patch (" + str::number(patch_A_) + " A a side, each standardised by its frame) of each motif class that a Gaussian "
                           "mixture of the patches' principal components finds around the detected defects, the number of classes chosen by "
                           "BIC; titles give the class size and the detector class most of its members have.");
  }

  std::string images_, movie_, material_, figures_;
  double patch_A_ = 6.4, a_A_ = 0, lattice_A_ = 0;
  int patch_px_ = 32, components_ = 10, max_motifs_ = 8;
  std::uint64_t seed_ = 1;
  DefectTable table_;
};

}  // namespace

std::unique_ptr<Stage> make_defect_motifs_stage() { return std::make_unique<DefectMotifs>(); }

}  // namespace tmdflow::stages
