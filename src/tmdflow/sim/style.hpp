#pragma once
// A style: the realism parameters of the simulation engine fitted to experimental images by stage
// style-fit (product style/1, data_schema/style.md), with the conditions they were fitted under.
// simulate-adf takes the values (--style), make-trainset ranges formed around them.
#include <string>

#include "tmdflow/io/h5.hpp"
#include "tmdflow/sim/trainset.hpp"

namespace tmdflow::sim {

struct Style {
  std::string where;                 // FILE:/group it was read from ("" when made here)
  // What was simulated: the stack and the microscope.
  std::string material, stacking;
  int layers = 2;
  double pixel_A = 0, voltage_kV = 0, convergence_mrad = 0, inner_mrad = 0, outer_mrad = 0, defocus_A = 0, Cs_A = 0;
  // The realism (fitted or held fixed).
  double dose_e_per_A2 = 0;          // incident electrons per A^2
  double source_size_A = 0;          // Gaussian source size, standard deviation
  double jitter_A = 0;               // scan-line jitter along x, rms
  double background = 0;             // fraction of the beam added to every pixel before the noise
  double read_noise = 0;             // detected electrons rms
  double psf_A = 0;                  // Gaussian point-spread after the noise (detector, display), sigma
  double contamination = 0;          // amorphous carbon, atoms per A^2
  double gain = 1, offset = 0;       // detected electrons -> the experiment's grey levels
};

/// The ranges a training set draws around a style (data_schema/style.md): dose x/÷ 2 (log-uniform),
/// source size +-25 % (at least +-0.05 A), jitter, read noise and contamination x 0.5 to 1.5,
/// background and point-spread +-25 %, defocus +-10 A.
struct StyleRanges {
  Range dose, source_size_A, jitter_A, background, read_noise, psf_A, contamination, defocus_A;
};
StyleRanges style_ranges(const Style& style);

/// Writes the style into a product group: the conditions as attributes of the group, the values in
/// `parameters` and the training ranges in `ranges` (attributes; collective on the file).
void write_style(const io::h5::Group& group, const Style& style);

/// Reads a style/1 product ("FILE.h5[:/group]", default group /style). Throws InputError naming the
/// file, group and attribute that is missing or wrong.
Style read_style(const std::string& spec);

}  // namespace tmdflow::sim
