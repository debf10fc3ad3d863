#pragma once
// DECTRIS Arina (and Eiger-style NXmx) 4D-STEM acquisitions as a FrameSource: the master file's
// data_NNNNNN links give the frames in acquisition order (read through HDF5 with their compression
// filters, see arina_filters.hpp), the master gives the detector metadata, and the scan shape comes
// from --scan or from BASE.h5 ("STEM Metadata") beside the master. The master itself records no
// scan shape, only its frame count (nimages x ntrigger).
//
// Pixels flagged in the master's pixel_mask (any bit set: gap, dead, hot, noisy, ...) are set to 0
// in every frame; the detector marks them with its largest count, which would dominate any sum.
// options.flatfield multiplies each frame by the master's flatfield (DECTRIS stores correction
// factors, the ones the detector multiplies by when flatfield_correction_applied is 1) and writes
// float32; otherwise the element type of the data files is kept.
// Frame rows are Qx (the detector's slow direction), columns Qy (no flip).
#include <memory>
#include <string>

#include "tmdflow/io/formats/frame_source.hpp"

namespace tmdflow::io {

/// Opens the acquisition that `path` belongs to: its master, one of its data files or its BASE.h5
/// (each leads to the master beside it). Checks every data file (shape, type, numbering, filters)
/// before any frame is read.
std::unique_ptr<FrameSource> open_arina(const std::string& path, const FrameSourceOptions& options);

/// The accelerating voltage (kV) of electrons of relativistic wavelength `wavelength_A` (Angstrom):
/// the inverse of units::electron_wavelength_A.
double electron_voltage_kV(double wavelength_A);

}  // namespace tmdflow::io
