# OpenBLAS for the catalog's CPU matmul (src/catalog/linear_cpu.c). Debian's
# libopenblas-dev brings libopenblas-pthread-dev, whose static archive is
# position-independent: it is linked into libzmlx, its symbols hidden, so
# libzmlx.so needs nothing more at run time (the archive adds about 25 MB:
# kernels for every x86-64 generation). libzmlx.a's users link it too.
# Without it the matmul runs its own run-time kernel on the CPU (correct,
# slow).
#
#   ZMLX_OPENBLAS      AUTO (default): use it when found; ON: require it; OFF
#   ZMLX_DEPS_PREFIX   searched first, as for the tokenizer's libraries
#                      (cmake/tokenizer_deps.cmake): a machine without a
#                      package registry can carry libopenblas-pthread-dev's
#                      .deb and unpack it there with dpkg-deb -x
#
# Sets ZMLX_HAVE_OPENBLAS; zmlx_openblas_link() applies it to the targets.
set(ZMLX_OPENBLAS AUTO CACHE STRING "Use OpenBLAS for the CPU matmul: AUTO, ON or OFF")
set(ZMLX_HAVE_OPENBLAS OFF)
if(NOT ZMLX_OPENBLAS STREQUAL "OFF")
  set(_ob_hints)
  if(ZMLX_DEPS_PREFIX)
    get_filename_component(_ob_prefix "${ZMLX_DEPS_PREFIX}" ABSOLUTE)
    list(APPEND _ob_hints "${_ob_prefix}" "${_ob_prefix}/usr")
  endif()
  # The pthread and serial builds only: the OpenMP one would need libgomp.
  set(_ob_suffixes openblas-pthread openblas-serial)
  foreach(_ob_dir lib/${CMAKE_LIBRARY_ARCHITECTURE} lib64 lib)
    list(APPEND _ob_suffixes ${_ob_dir}/openblas-pthread ${_ob_dir}/openblas-serial ${_ob_dir})
  endforeach()
  find_library(ZMLX_OPENBLAS_LIBRARY NAMES libopenblas.a HINTS ${_ob_hints}
               PATH_SUFFIXES ${_ob_suffixes})
  if(ZMLX_OPENBLAS_LIBRARY)
    set(ZMLX_HAVE_OPENBLAS ON)
    message(STATUS "zmlx matmul on the CPU: ${ZMLX_OPENBLAS_LIBRARY}")
  elseif(ZMLX_OPENBLAS STREQUAL "ON")
    message(FATAL_ERROR "ZMLX_OPENBLAS=ON but no static libopenblas.a was found; install "
      "libopenblas-dev (scripts/deps.sh) or set ZMLX_DEPS_PREFIX")
  else()
    message(STATUS "zmlx: no static OpenBLAS (libopenblas-dev): the CPU matmul uses its own kernel")
  endif()
endif()

function(zmlx_openblas_link)
  if(ZMLX_HAVE_OPENBLAS)
    target_compile_definitions(zmlx_obj PRIVATE ZMLX_HAVE_OPENBLAS=1)
    target_link_libraries(zmlx PRIVATE ${ZMLX_OPENBLAS_LIBRARY})
    # Its symbols stay inside libzmlx.so: no clash with another BLAS.
    target_link_options(zmlx PRIVATE "LINKER:--exclude-libs,ALL")
    target_link_libraries(zmlx_static PUBLIC $<BUILD_INTERFACE:${ZMLX_OPENBLAS_LIBRARY}>
                          $<INSTALL_INTERFACE:openblas>)
  endif()
endfunction()
