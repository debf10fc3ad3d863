# `cmake --install build --prefix PREFIX` installs:
#   bin/tmdflow, bin/tmdflow-mpiexec            the executable and its local mpiexec wrapper
#   lib/libtmdflow_*.a                          the layer libraries (static, position independent)
#   include/tmdflow/{core,par,io,...}/*.hpp     their headers; include/tmdflow/stages/ the stage framework
#   share/tmdflow/{workflows,data_schema,models}
#   lib/cmake/tmdflow/                          the package config: find_package(tmdflow) gives
#                                               tmdflow::core, ::par, ::io, ::sim, ::cluster, ::analysis,
#                                               ::stages (and ::learn with COMPONENTS learn)
# The libraries are static: a consumer links them and their dependencies, which tmdflowConfig.cmake
# finds again with the same rules and Debian fixes as this build (cmake/TmdflowDependencies.cmake).
# The product schemas are compiled into tmdflow::io (cmake/EmbedSchemas.cmake), so the installed
# executable needs no file from share/ at run time; share/ is for people and for workflows to copy.
include(CMakePackageConfigHelpers)

set(TMDFLOW_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/tmdflow CACHE STRING
    "Where the package config goes, relative to the install prefix")

# --- libraries and headers -------------------------------------------------------------------
set(_tmdflow_exported tmdflow_flags)
foreach(_layer core par io sim cluster analysis campaign stages)
  if(TARGET tmdflow_${_layer})
    set_target_properties(tmdflow_${_layer} PROPERTIES EXPORT_NAME ${_layer})
    list(APPEND _tmdflow_exported tmdflow_${_layer})
  endif()
endforeach()
# tmdflow::flags carries only this build's warning/optimisation options (compile options do not
# travel: it is linked privately) and, in a sanitized build, the sanitizer link options (they do).
set_target_properties(tmdflow_flags PROPERTIES EXPORT_NAME flags)
install(TARGETS ${_tmdflow_exported} EXPORT tmdflowTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/src/tmdflow/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tmdflow
        FILES_MATCHING PATTERN "*.hpp" PATTERN "learn" EXCLUDE)
file(GLOB _tmdflow_stage_headers ${PROJECT_SOURCE_DIR}/stages/*.hpp)
install(FILES ${_tmdflow_stage_headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tmdflow/stages)
install(EXPORT tmdflowTargets NAMESPACE tmdflow:: DESTINATION ${TMDFLOW_INSTALL_CMAKEDIR})

# LibTorch is optional: tmdflow::learn is its own export set, loaded by COMPONENTS learn only, so
# that consumers of the rest never search for LibTorch.
if(TARGET tmdflow_learn)
  set_target_properties(tmdflow_learn PROPERTIES EXPORT_NAME learn)
  install(TARGETS tmdflow_learn EXPORT tmdflowLearnTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/src/tmdflow/learn/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tmdflow/learn
          FILES_MATCHING PATTERN "*.hpp")
  install(EXPORT tmdflowLearnTargets NAMESPACE tmdflow:: DESTINATION ${TMDFLOW_INSTALL_CMAKEDIR})
endif()

# --- executables -----------------------------------------------------------------------------
# Dependencies found outside the system directories (e.g. through `module load`) stay findable.
set_target_properties(tmdflow PROPERTIES INSTALL_RPATH_USE_LINK_PATH TRUE)
install(TARGETS tmdflow RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET tmdflow-learn)
  set_target_properties(tmdflow-learn PROPERTIES INSTALL_RPATH_USE_LINK_PATH TRUE)
  install(TARGETS tmdflow-learn RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(PROGRAMS ${PROJECT_BINARY_DIR}/bin/tmdflow-mpiexec DESTINATION ${CMAKE_INSTALL_BINDIR})

# --- data ------------------------------------------------------------------------------------
install(DIRECTORY ${PROJECT_SOURCE_DIR}/workflows ${PROJECT_SOURCE_DIR}/data_schema ${PROJECT_SOURCE_DIR}/models
        DESTINATION ${CMAKE_INSTALL_DATADIR}/tmdflow)

# --- package config --------------------------------------------------------------------------
# The config re-runs the dependency search; it starts from what this build found (the parallel
# HDF5 compiler wrapper, FFTW's directory) so that a consumer on the same machine finds the same.
set(TMDFLOW_BUILD_HDF5_C_COMPILER "${HDF5_C_COMPILER_EXECUTABLE}")
get_filename_component(TMDFLOW_BUILD_FFTW_LIBDIR "${FFTW_LIBRARY}" DIRECTORY)
set(TMDFLOW_BUILD_FFTW_INCLUDEDIR "${FFTW_INCLUDE_DIR}")
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tmdflowConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/cmake/tmdflowConfig.cmake
                              INSTALL_DESTINATION ${TMDFLOW_INSTALL_CMAKEDIR}
                              PATH_VARS CMAKE_INSTALL_DATADIR CMAKE_INSTALL_BINDIR)
# 0.x: a minor version may change the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/tmdflowConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/tmdflowConfig.cmake ${PROJECT_BINARY_DIR}/cmake/tmdflowConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/TmdflowDependencies.cmake ${CMAKE_CURRENT_LIST_DIR}/FixKokkos.cmake
        DESTINATION ${TMDFLOW_INSTALL_CMAKEDIR})
