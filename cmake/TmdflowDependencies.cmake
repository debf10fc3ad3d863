# Finds every dependency of tmdflow (all from Debian 12 packages, see cmake/install_deps.sh)
# and fixes what Debian's packaging gets wrong. Each failure names the package to install.

macro(tmdflow_require found what package)
  if(NOT ${found})
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
add_library(tmdflow_hdf5 INTERFACE)
target_include_directories(tmdflow_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS})
target_link_libraries(tmdflow_hdf5 INTERFACE ${HDF5_C_LIBRARIES} MPI::MPI_C)
target_compile_definitions(tmdflow_hdf5 INTERFACE ${HDF5_C_DEFINITIONS})
add_library(tmdflow::hdf5 ALIAS tmdflow_hdf5)

# --- Kokkos ----------------------------------------------------------------------------------
find_package(Kokkos QUIET)
tmdflow_require(Kokkos_FOUND "Kokkos" "libtrilinos-kokkos-dev")
include(${CMAKE_CURRENT_LIST_DIR}/FixKokkos.cmake)

# --- LibTorch --------------------------------------------------------------------------------
if(TMDFLOW_WITH_TORCH)
  find_package(Torch QUIET)
  tmdflow_require(Torch_FOUND "LibTorch" "libtorch-dev")
  add_library(tmdflow_torch INTERFACE)
  target_include_directories(tmdflow_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  target_link_libraries(tmdflow_torch INTERFACE ${TORCH_LIBRARIES})
  add_library(tmdflow::torch ALIAS tmdflow_torch)
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
add_library(tmdflow_fftw INTERFACE)
target_include_directories(tmdflow_fftw SYSTEM INTERFACE ${FFTW_INCLUDE_DIR})
target_link_libraries(tmdflow_fftw INTERFACE ${FFTW_LIBRARY} ${FFTWF_LIBRARY})
add_library(tmdflow::fftw ALIAS tmdflow_fftw)

# --- LAPACK (symmetric eigensolver of PCA) ----------------------------------------------------
# Called through its Fortran symbols (dsyevd_), so only the library is needed, no C header.
find_package(LAPACK QUIET)
tmdflow_require(LAPACK_FOUND "LAPACK" "liblapack-dev")
add_library(tmdflow_lapack INTERFACE)
target_link_libraries(tmdflow_lapack INTERFACE ${LAPACK_LIBRARIES})
add_library(tmdflow::lapack ALIAS tmdflow_lapack)

# --- images ----------------------------------------------------------------------------------
find_package(PNG QUIET)
tmdflow_require(PNG_FOUND "libpng" "libpng-dev")
find_package(TIFF QUIET)
tmdflow_require(TIFF_FOUND "libtiff" "libtiff-dev")

# --- tests -----------------------------------------------------------------------------------
if(TMDFLOW_BUILD_TESTS)
  find_package(GTest QUIET)
  tmdflow_require(GTest_FOUND "GoogleTest" "libgtest-dev")
  # Independent checks in tests use Debian's python3 with h5py and numpy (python3-h5py).
  find_program(TMDFLOW_TEST_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
  if(NOT TMDFLOW_TEST_PYTHON)
    find_program(TMDFLOW_TEST_PYTHON NAMES python3)
  endif()
  tmdflow_require(TMDFLOW_TEST_PYTHON "python3 (with h5py, numpy)" "python3-h5py")
endif()
