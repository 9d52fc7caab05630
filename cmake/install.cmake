# Installation: libraries, the CLI, the public headers, a pkg-config file and
# a CMake package, so that either of these works in a consumer:
#
#   cc app.c $(pkg-config --cflags --libs zmlx)
#
#   find_package(zmlx CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE zmlx::zmlx)         # libzmlx.so
#   target_link_libraries(app PRIVATE zmlx::zmlx_static)  # libzmlx.a
#
# Included from the top-level CMakeLists.txt after every target exists.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ZMLX_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/zmlx CACHE STRING
    "Where zmlxConfig.cmake is installed, relative to the prefix")
set(ZMLX_INSTALL_PKGCONFIGDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig CACHE STRING
    "Where zmlx.pc is installed, relative to the prefix")

# ---- Libraries and the CLI ------------------------------------------------
set(_zmlx_libs)
foreach(t zmlx zmlx_static)
  if(TARGET ${t})
    list(APPEND _zmlx_libs ${t})
  endif()
endforeach()

install(TARGETS ${_zmlx_libs}
  EXPORT zmlxTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    COMPONENT runtime NAMELINK_COMPONENT dev
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
# (The include directory reaches the exported targets through their
# $<INSTALL_INTERFACE:include> in the top-level CMakeLists.txt.)

if(TARGET zmlx_cli)
  install(TARGETS zmlx_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
          COMPONENT runtime)
endif()

# ---- Headers --------------------------------------------------------------
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/zmlx
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
  FILES_MATCHING PATTERN "*.h")

# ---- pkg-config -------------------------------------------------------------
# zmlx.pc holds absolute paths. The prefix is filled in at install time, so
# `cmake --install build --prefix DIR` gives a file pointing into DIR whatever
# CMAKE_INSTALL_PREFIX was at configure time (DESTDIR is not part of it, as
# packaging expects). Absolute LIBDIR/INCLUDEDIR settings are kept as given.
set(ZMLX_PC_PREFIX "@CMAKE_INSTALL_PREFIX@")
foreach(d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${d}}")
    set(ZMLX_PC_${d} "${CMAKE_INSTALL_${d}}")
  else()
    set(ZMLX_PC_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
  endif()
endforeach()
# libzmlx.so carries PCRE2 and utf8proc inside (cmake/tokenizer_deps.cmake);
# libzmlx.a's users link them (pkg-config --static).
set(ZMLX_PC_LIBS_PRIVATE "")
if(ZMLX_HAVE_TOKENIZER)
  set(ZMLX_PC_LIBS_PRIVATE " -lpcre2-8 -lutf8proc")
endif()
# Likewise OpenBLAS (cmake/linear_openblas.cmake).
if(ZMLX_HAVE_OPENBLAS)
  string(APPEND ZMLX_PC_LIBS_PRIVATE " -lopenblas")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/zmlx.pc.in
               ${PROJECT_BINARY_DIR}/zmlx.pc.stage1 @ONLY)
install(CODE "configure_file(\"${PROJECT_BINARY_DIR}/zmlx.pc.stage1\"
                             \"${PROJECT_BINARY_DIR}/zmlx.pc\" @ONLY)"
        COMPONENT dev)
install(FILES ${PROJECT_BINARY_DIR}/zmlx.pc
        DESTINATION ${ZMLX_INSTALL_PKGCONFIGDIR} COMPONENT dev)

# ---- CMake package --------------------------------------------------------
install(EXPORT zmlxTargets
  NAMESPACE zmlx::
  FILE zmlxTargets.cmake
  DESTINATION ${ZMLX_INSTALL_CMAKEDIR} COMPONENT dev)

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/zmlxConfig.cmake.in
  ${PROJECT_BINARY_DIR}/zmlxConfig.cmake
  INSTALL_DESTINATION ${ZMLX_INSTALL_CMAKEDIR})
# 0.x releases may break the API between minor versions.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/zmlxConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/zmlxConfig.cmake
  ${PROJECT_BINARY_DIR}/zmlxConfigVersion.cmake
  DESTINATION ${ZMLX_INSTALL_CMAKEDIR} COMPONENT dev)

unset(_zmlx_libs)
