#pragma once
// Classification of every lattice site of an MX2 alloy monolayer (issue #17, stage classify-sites;
// data_schema/atoms.md): the sites segment-atoms found, each with the site network's evidence for
// the nine classes (sim/site_classes.hpp: Mo, W, V_M on the metal sublattice; S2, SSe, Se2, S, Se,
// V_X2 on the chalcogen one), are joined into the lattice graph (lattice_graph.hpp), which tells
// each site's sublattice from the geometry of its neighbourhood and adds the sites where the
// lattice has a site and nothing was found (empty: V_M or V_X2). The sublattice constraint then
// gives each site the probability of the classes of its own sublattice only:
//   p_c = (max(e_c, 0) + floor) / sum over the sublattice's classes, 0 for the others,
// e_c being the network's evidence (its heat map c at the site; a site of class c peaks at 1 there).
// Which of the two sublattices is the metal one is decided by the network's evidence averaged over
// each sublattice locally (the lattice graph's intensity rule fed with metal evidence minus
// chalcogen evidence), not by brightness: in MoSe2 the chalcogen pair is the brighter column.
// Without the constraint a site takes the strongest of all nine classes (the network alone), and
// the empty sites the network did not mark are missed: both are reported, so that the gain of the
// constraint is measured side by side.
//
// The calibrated intensity model (a second classifier, fitted on each image): incoherent ADF
// intensity adds up over the atoms of a column, so a column's mean intensity near its centre is
//   I = b + n_M k_M + n_M' k_M' + n_X k_X + n_Y k_Y
// (n: atoms of each element the class holds, b: the background of an empty site). b and the four k
// are fitted by least squares to the sites the constrained network is confident about (probability
// >= `confident`), once more without the sites more than 3 standard deviations off; an element held
// by fewer than 5 such sites is tied to the other element of its sublattice by k ~ Z^1.7. A class's
// spread: var = a + g x its mean intensity (background noise plus counting noise, which grows with
// the signal), fitted to the robust variances of the residuals of the classes with >= 10 confident
// sites; with fewer than two such classes, the robust standard deviation per sublattice. The
// network's class stands where the site's intensity lies within `veto` (3) spreads of that class's
// mean: the network saw the same pixels, and multiplying their likelihood in again would count the
// intensity twice and let noise overrule it. Where the intensity rules the network's class out,
// the probabilities become the network's evidence times the Gaussian likelihood of the intensity
// over its sublattice's classes: the image itself calibrates what a Se column missing one atom looks
// like beside an S+Se pair, whatever code or microscope made it. Without enough confident sites
// (fewer than 20) the model is not fitted and the network's evidence alone decides.
#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "tmdflow/analysis/atoms/lattice_graph.hpp"
#include "tmdflow/sim/site_classes.hpp"

namespace tmdflow::analysis::atoms {

constexpr int kClasses = sim::kSiteClasses;

struct SiteEvidence {
  double x = 0, y = 0;                 // pixels
  std::array<float, kClasses> scores{};  // the network's heat maps at the site
  double intensity = std::numeric_limits<double>::quiet_NaN();  // mean image value near the site (NaN: unknown)
};

struct ClassificationSpec {
  LatticeGraphSpec graph;              // metal_brighter is set by classify_sites (evidence, not brightness)
  double floor = 1e-3;                 // added to each allowed class's evidence
  bool intensity_model = true;
  double confident = 0.8;              // sites that calibrate the intensity model
  double veto = 3;                     // the intensity overrules the network's class beyond this many spreads
  sim::AlloyElements elements;         // Z of the four elements (the k ~ Z^1.7 ties)
};

/// The fitted intensity model: background, k per element (host metal, alloy metal, host
/// chalcogen, alloy chalcogen), spread per sublattice (metal, chalcogen).
struct IntensityModel {
  bool fitted = false;
  double background = 0;
  std::array<double, 4> k{};
  std::array<double, 2> sd{};          // pooled spread per sublattice (the first pass's trimming)
  double noise_a = 0, noise_g = 0;     // spread of a class: var = a + g x its mean (counting noise grows with the signal)
  std::int64_t sites = 0;              // sites it was fitted to
  double mean(int site_class) const;   // expected intensity of a class
  double spread(int site_class) const; // its standard deviation
};

struct ClassifiedSite {
  double x = 0, y = 0;
  Sublattice sublattice = Sublattice::unknown;
  int site_class = -1;                 // with the sublattice constraint
  int unconstrained_class = -1;        // the strongest of the nine (-1: a site the network did not find)
  int network_class = -1;              // with the constraint, from the network's evidence alone
  std::array<float, kClasses> probability{};
  bool found = true;                   // false: added by the lattice graph
};

struct Classification {
  std::vector<ClassifiedSite> sites;   // the input sites in their order, then the added empty ones
  LatticeGraph graph;
  IntensityModel intensity;
  std::int64_t vetoed = 0;             // sites whose network class the intensity ruled out
};

/// Throws ConfigError for bad input (as build_lattice_graph; fewer than 3 sites).
Classification classify_sites(const std::vector<SiteEvidence>& sites, const ClassificationSpec& spec);

/// The sublattice of a class (metal for 0-2, chalcogen for 3-8).
Sublattice class_sublattice(int site_class);

/// Local composition of the alloy on a grid: x = alloying metal / metal atoms among the metal sites
/// within `radius_px` of each grid point, y = alloying chalcogen / chalcogen atoms among the
/// chalcogen columns within it (NaN where there is none); grid points at (j + 0.5) step, (i + 0.5) step.
struct CompositionMaps {
  std::int64_t ny = 0, nx = 0;
  double step_px = 0;
  std::vector<float> x, y;
};
CompositionMaps composition_maps(const std::vector<ClassifiedSite>& sites, double height_px, double width_px, double radius_px, double step_px);

/// Alloying and host atoms a class holds: {metal host, metal alloy, chalcogen host, chalcogen alloy}.
std::array<int, 4> atoms_of_class(int site_class);

}  // namespace tmdflow::analysis::atoms
