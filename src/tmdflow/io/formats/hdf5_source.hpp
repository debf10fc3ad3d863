#pragma once
// HDF5 datacubes as a FrameSource: EMD 1.0 (py4DSTEM, tmdflow), Prismatic's EMD 0.5 output and
// any 4-D dataset named as FILE.h5:/path (or with options.dataset). The file is opened by each
// rank on its own (serial driver) and each rank reads only its frames.
//
// Prismatic writes its 4D output (4DSTEM_simulation/data/datacubes/CBED_array_depthNNNN/datacube)
// with dims labelled "[n_m]" and "[n_m^-1]", but the values are Angstrom and 1/Angstrom: the R
// step equals its probe step (simulation_parameters attribute rx, Angstrom) and the Q step is
// 1/(cell size in Angstrom). tmdflow therefore reads them as Angstrom: R_pixel_size = step / 10 in
// nm, Q_pixel_size = step in A^-1 (data_schema/ingest.md). Other EMD 0.5 files keep their units.
#include <memory>
#include <string>

#include "tmdflow/io/formats/frame_source.hpp"

namespace tmdflow::io {

std::unique_ptr<FrameSource> open_hdf5_source(const std::string& path, const FrameSourceOptions& options);

}  // namespace tmdflow::io
