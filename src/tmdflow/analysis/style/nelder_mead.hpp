#pragma once
// Derivative-free minimisation (Nelder & Mead, Comput. J. 7, 308 (1965), with the standard
// coefficients: reflection 1, expansion 2, contraction 1/2, shrink 1/2) for small, noisy-free but
// non-smooth objectives such as the style fit's. Deterministic: the same start gives the same path.
#include <functional>
#include <vector>

namespace tmdflow::analysis {

struct NelderMeadResult {
  std::vector<double> x;        // the best point found
  double value = 0;             // its objective
  int evaluations = 0;
  std::vector<double> history;  // the best value after each evaluation
};

/// Minimises f from x0 with an initial simplex of x0 and x0 + step_k e_k, until `max_evaluations`
/// or until the simplex's values agree within `tolerance` (absolute); then restarts once from the
/// best point (a collapsed simplex is the method's known failure) while evaluations remain.
NelderMeadResult nelder_mead(const std::function<double(const std::vector<double>&)>& f, std::vector<double> x0,
                             const std::vector<double>& step, int max_evaluations, double tolerance = 1e-6);

}  // namespace tmdflow::analysis
