# Finds every dependency of tmdflow (all from Debian 12 packages, see cmake/install_deps.sh)
# and fixes what Debian's packaging gets wrong. Each failure names the package to install.
#
# The installed package config (cmake/tmdflowConfig.cmake.in) includes this same file, with
# TMDFLOW_FINDING_FOR_PACKAGE set, so that find_package(tmdflow) finds and fixes the dependencies
# exactly as the build did. Hence the targets made here are IMPORTED (the exported tmdflow::*
# targets name them, and a consumer recreates them) and a failure there ends find_package(tmdflow)
# with tmdflow_FOUND false instead of stopping the consumer's configure.

macro(tmdflow_require found what package)
  if(NOT ${found})
    if(TMDFLOW_FINDING_FOR_PACKAGE)
      set(tmdflow_FOUND FALSE)
      set(tmdflow_NOT_FOUND_MESSAGE "tmdflow needs ${what} (Debian package '${package}'), which was not found")
      return()
    endif()
    message(FATAL_ERROR "tmdflow: ${what} not found. Install the Debian package '${package}' "
                        "(or run: sh cmake/install_deps.sh)")
  endif()
endmacro()

# --- MPI -------------------------------------------------------------------------------------
find_package(MPI COMPONENTS C CXX QUIET)
tmdflow_require(MPI_CXX_FOUND "MPI (C/C++)" "libopenmpi-dev")

# --- parallel HDF5 ---------------------------------------------------------------------------
# Debian ships serial and parallel HDF5 side by side; pick the Open MPI flavour explicitly.
set(HDF5_PREFER_PARALLEL TRUE)
if(NOT HDF5_C_COMPILER_EXECUTABLE AND EXISTS /usr/bin/h5pcc.openmpi)
  set(HDF5_C_COMPILER_EXECUTABLE /usr/bin/h5pcc.openmpi)
endif()
find_package(HDF5 COMPONENTS C QUIET)
tmdflow_require(HDF5_FOUND "HDF5" "libhdf5-openmpi-dev")
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "tmdflow: the HDF5 found (${HDF5_C_INCLUDE_DIRS}) is not built with MPI. "
                      "Install 'libhdf5-openmpi-dev' or point HDF5_C_COMPILER_EXECUTABLE at its h5pcc.")
endif()
if(NOT TARGET tmdflow::hdf5)
  add_library(tmdflow::hdf5 INTERFACE IMPORTED)
  target_include_directories(tmdflow::hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS})
  target_link_libraries(tmdflow::hdf5 INTERFACE ${HDF5_C_LIBRARIES} MPI::MPI_C)
  target_compile_definitions(tmdflow::hdf5 INTERFACE ${HDF5_C_DEFINITIONS})
endif()
# Filter plugins built for this HDF5 (DECTRIS bitshuffle/LZ4: Debian package bitshuffle), added to
# HDF5's search path at run time unless HDF5_PLUGIN_PATH is set (io/formats/arina_filters.hpp).
set(TMDFLOW_HDF5_PLUGIN_DIR "/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/hdf5/openmpi/plugins" CACHE PATH
    "HDF5 filter plugins for the parallel HDF5 tmdflow links")
if(NOT EXISTS "${TMDFLOW_HDF5_PLUGIN_DIR}/libh5bshuf.so")
  message(WARNING "tmdflow: no bitshuffle plugin in ${TMDFLOW_HDF5_PLUGIN_DIR}: DECTRIS files will not be readable. "
                  "Install the Debian package 'bitshuffle' (or set TMDFLOW_HDF5_PLUGIN_DIR)")
endif()

# --- Kokkos ----------------------------------------------------------------------------------
find_package(Kokkos QUIET)
tmdflow_require(Kokkos_FOUND "Kokkos" "libtrilinos-kokkos-dev")
include(${CMAKE_CURRENT_LIST_DIR}/FixKokkos.cmake)

# --- LibTorch (optional) ----------------------------------------------------------------------
# Only tmdflow::learn, its tests and the patch-inference benchmark use it; no stage links it yet.
# TMDFLOW_WITH_TORCH: AUTO builds them when LibTorch is found, ON requires it, OFF skips it.
if(NOT TMDFLOW_FINDING_FOR_PACKAGE)
  set(TMDFLOW_WITH_TORCH AUTO CACHE STRING "Build tmdflow::learn with LibTorch: AUTO (when found), ON (required) or OFF")
  set_property(CACHE TMDFLOW_WITH_TORCH PROPERTY STRINGS AUTO ON OFF)
endif()
set(TMDFLOW_HAVE_TORCH FALSE)
if(NOT TMDFLOW_WITH_TORCH STREQUAL "OFF")
  find_package(Torch QUIET)
  if(TMDFLOW_WITH_TORCH STREQUAL "ON")
    tmdflow_require(Torch_FOUND "LibTorch" "libtorch-dev")
  endif()
  if(Torch_FOUND)
    set(TMDFLOW_HAVE_TORCH TRUE)
    if(NOT TARGET tmdflow::torch)
      add_library(tmdflow::torch INTERFACE IMPORTED)
      target_include_directories(tmdflow::torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
      target_link_libraries(tmdflow::torch INTERFACE ${TORCH_LIBRARIES})
    endif()
  endif()
endif()
if(NOT TMDFLOW_FINDING_FOR_PACKAGE)
  if(TMDFLOW_HAVE_TORCH)
    message(STATUS "tmdflow: LibTorch found: building tmdflow::learn, its tests and benchmark")
  else()
    message(STATUS "tmdflow: no LibTorch (TMDFLOW_WITH_TORCH=${TMDFLOW_WITH_TORCH}): "
                   "tmdflow::learn, its tests and benchmark are not built")
  endif()
endif()

# --- Boost -----------------------------------------------------------------------------------
find_package(Boost 1.71 COMPONENTS program_options QUIET)
tmdflow_require(Boost_FOUND "Boost.Program_options" "libboost-program-options-dev")

# --- FFTW (double and single) ----------------------------------------------------------------
find_path(FFTW_INCLUDE_DIR fftw3.h)
find_library(FFTW_LIBRARY fftw3)
find_library(FFTWF_LIBRARY fftw3f)
if(NOT FFTW_INCLUDE_DIR OR NOT FFTW_LIBRARY OR NOT FFTWF_LIBRARY)
  tmdflow_require(FALSE "FFTW3 (double and single precision)" "libfftw3-dev")
endif()
if(NOT TARGET tmdflow::fftw)
  add_library(tmdflow::fftw INTERFACE IMPORTED)
  target_include_directories(tmdflow::fftw SYSTEM INTERFACE ${FFTW_INCLUDE_DIR})
  target_link_libraries(tmdflow::fftw INTERFACE ${FFTW_LIBRARY} ${FFTWF_LIBRARY})
endif()

# --- LAPACK (symmetric eigensolver of PCA) ----------------------------------------------------
# Called through its Fortran symbols (dsyevd_), so only the library is needed, no C header.
find_package(LAPACK QUIET)
tmdflow_require(LAPACK_FOUND "LAPACK" "liblapack-dev")
if(NOT TARGET tmdflow::lapack)
  add_library(tmdflow::lapack INTERFACE IMPORTED)
  target_link_libraries(tmdflow::lapack INTERFACE ${LAPACK_LIBRARIES})
endif()

# --- images ----------------------------------------------------------------------------------
find_package(PNG QUIET)
tmdflow_require(PNG_FOUND "libpng" "libpng-dev")
find_package(TIFF QUIET)
tmdflow_require(TIFF_FOUND "libtiff" "libtiff-dev")
# Figures are drawn with cairo (text through its font API and fontconfig, whose caches are freed at
# exit for leak checkers; the font is DejaVu Sans, fonts-dejavu-core).
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(CAIRO QUIET IMPORTED_TARGET cairo fontconfig)
endif()
tmdflow_require(CAIRO_FOUND "cairo and fontconfig" "libcairo2-dev")
if(NOT TARGET tmdflow::cairo)
  add_library(tmdflow::cairo INTERFACE IMPORTED)
  target_link_libraries(tmdflow::cairo INTERFACE PkgConfig::CAIRO)
endif()

# --- JSON (nlohmann/json, header-only): Velox metadata, model manifests ---------------------
find_package(nlohmann_json 3.2 QUIET)
tmdflow_require(nlohmann_json_FOUND "nlohmann/json" "nlohmann-json3-dev")
if(NOT TARGET tmdflow::json)
  add_library(tmdflow::json INTERFACE IMPORTED)
  target_link_libraries(tmdflow::json INTERFACE nlohmann_json::nlohmann_json)
endif()

# --- tests -----------------------------------------------------------------------------------
if(TMDFLOW_BUILD_TESTS AND NOT TMDFLOW_FINDING_FOR_PACKAGE)
  find_package(GTest QUIET)
  tmdflow_require(GTest_FOUND "GoogleTest" "libgtest-dev")
  # Independent checks in tests use Debian's python3 with h5py and numpy (python3-h5py).
  find_program(TMDFLOW_TEST_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
  if(NOT TMDFLOW_TEST_PYTHON)
    find_program(TMDFLOW_TEST_PYTHON NAMES python3)
  endif()
  tmdflow_require(TMDFLOW_TEST_PYTHON "python3 (with h5py, numpy)" "python3-h5py")
endif()
