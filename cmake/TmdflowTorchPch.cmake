# A precompiled <torch/torch.h> for the targets with many LibTorch units (build time, not behaviour).
#
# The header costs ~16 s of a ~20-30 s compile in every unit that includes it (~48 units: 3/4 of a
# fresh Release build on 2 cores). Precompiled once per target (~35 s), a unit loads it in ~7 s.
# Units of the target that do not reach LibTorch (neither directly nor through the project's own
# headers) keep their plain compile: a forced include would cost them the 7 s for nothing.
# TMDFLOW_TORCH_PCH=OFF turns it off. With ccache, set CCACHE_SLOPPINESS=pch_defines,time_macros
# (ccache's own rule for precompiled headers), or ccache compiles those units uncached.
option(TMDFLOW_TORCH_PCH "Precompile <torch/torch.h> once per LibTorch target" ON)
# With TMDFLOW_UNITY_BUILD, the LibTorch units of such a target (tests included) are also compiled
# TMDFLOW_TORCH_UNITY_UNITS at a time (a unity build in CMake's GROUP mode): they share the header's
# load and LibTorch's template instances, which make most of the rest of their compile (measured:
# tmdflow_learn 317 -> 125 CPU-s). 0 or 1 compiles each unit alone. The other units of the target
# compile alone. Names at file scope (anonymous namespaces included) must differ between the
# LibTorch units of one target.
set(TMDFLOW_TORCH_UNITY_UNITS 4 CACHE STRING "LibTorch units compiled together (unity groups); 0: each alone")

# Does FILE include LibTorch, directly or through the project's headers under the include roots?
# Quoted and angled includes of "tmdflow/..." and stage headers are followed; results are cached
# per header in the global property TMDFLOW_TORCH_REACH_<path>.
function(_tmdflow_reaches_torch file roots out)
  get_property(_known GLOBAL PROPERTY "TMDFLOW_TORCH_REACH_${file}" SET)
  if(_known)
    get_property(_r GLOBAL PROPERTY "TMDFLOW_TORCH_REACH_${file}")
    set(${out} ${_r} PARENT_SCOPE)
    return()
  endif()
  set_property(GLOBAL PROPERTY "TMDFLOW_TORCH_REACH_${file}" FALSE)  # cycles end here
  set(_r FALSE)
  file(STRINGS "${file}" _includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  foreach(_line IN LISTS _includes)
    if(_line MATCHES "[<\"](torch/|ATen/|c10/)")
      set(_r TRUE)
      break()
    endif()
    if(_line MATCHES "[<\"]([^>\"]+)[>\"]")
      set(_name "${CMAKE_MATCH_1}")
      get_filename_component(_here "${file}" DIRECTORY)
      foreach(_root IN LISTS roots _here)
        if(EXISTS "${_root}/${_name}" AND NOT IS_DIRECTORY "${_root}/${_name}")
          get_filename_component(_header "${_root}/${_name}" ABSOLUTE)
          _tmdflow_reaches_torch("${_header}" "${roots}" _sub)
          if(_sub)
            set(_r TRUE)
          endif()
          break()
        endif()
      endforeach()
      if(_r)
        break()
      endif()
    endif()
  endforeach()
  set_property(GLOBAL PROPERTY "TMDFLOW_TORCH_REACH_${file}" ${_r})
  set(${out} ${_r} PARENT_SCOPE)
endfunction()

function(tmdflow_torch_pch target)
  if(NOT TMDFLOW_TORCH_PCH OR NOT TMDFLOW_HAVE_TORCH)
    return()
  endif()
  set(_roots "${PROJECT_SOURCE_DIR}/src" "${PROJECT_SOURCE_DIR}/stages" "${PROJECT_SOURCE_DIR}/tests")
  get_target_property(_sources ${target} SOURCES)
  get_target_property(_dir ${target} SOURCE_DIR)
  set(_with 0)
  set(_torch_sources "")
  foreach(_s IN LISTS _sources)
    if(NOT _s MATCHES "\\.cpp$")
      continue()
    endif()
    get_filename_component(_abs "${_s}" ABSOLUTE BASE_DIR "${_dir}")
    _tmdflow_reaches_torch("${_abs}" "${_roots}" _uses)
    if(_uses)
      math(EXPR _with "${_with} + 1")
      list(APPEND _torch_sources "${_s}")
    else()
      set_source_files_properties("${_s}" TARGET_DIRECTORY ${target} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
    endif()
  endforeach()
  if(_with GREATER 2)  # below three units the precompile costs more than it saves
    target_precompile_headers(${target} PRIVATE <torch/torch.h>)
  endif()
  if(TMDFLOW_UNITY_BUILD AND TMDFLOW_TORCH_UNITY_UNITS GREATER 1 AND _with GREATER 1)
    # Groups of at most N units, as even as the count allows (balanced for parallel builds).
    math(EXPR _groups "(${_with} + ${TMDFLOW_TORCH_UNITY_UNITS} - 1) / ${TMDFLOW_TORCH_UNITY_UNITS}")
    set(_i 0)
    foreach(_s IN LISTS _torch_sources)
      math(EXPR _g "${_i} % ${_groups}")
      set_source_files_properties("${_s}" TARGET_DIRECTORY ${target} PROPERTIES UNITY_GROUP "torch_${_g}")
      math(EXPR _i "${_i} + 1")
    endforeach()
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_MODE GROUP)
  else()
    set_target_properties(${target} PROPERTIES UNITY_BUILD OFF)
  endif()
endfunction()
