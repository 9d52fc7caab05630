# The tokenizer's two libraries: PCRE2 (8-bit, with its JIT) for the split
# regexes and utf8proc for Unicode normalization; Debian's libpcre2-dev and
# libutf8proc-dev (scripts/deps.sh installs them).
#
#   ZMLX_DEPS_PREFIX   a folder searched first: e.g. .carry/prefix/usr, where
#                      scripts/fetch_gpu_deps.sh unpacks those packages for a
#                      machine that has no package registry
#   ZMLX_STATIC_DEPS   link their static archives into libzmlx (default ON),
#                      so libzmlx.so needs nothing more at run time; their
#                      symbols stay hidden inside it
#   ZMLX_TOKENIZER     AUTO (default): build the tokenizer when both are found,
#                      else stubs that fail with UNSUPPORTED; ON: require them
#
# Sets ZMLX_HAVE_TOKENIZER, ZMLX_TOKENIZER_LIBS (for libzmlx.so) and
# ZMLX_TOKENIZER_STATIC_LIBS_BUILD/_INSTALL (what libzmlx.a's users link).
set(ZMLX_DEPS_PREFIX "" CACHE PATH "Prefix searched first for PCRE2 and utf8proc")
option(ZMLX_STATIC_DEPS "Link PCRE2 and utf8proc statically into libzmlx" ON)
set(ZMLX_TOKENIZER AUTO CACHE STRING "Build the tokenizer: AUTO, ON or OFF")

# scripts/fetch_gpu_deps.sh's prefix is used when nothing else is named.
if(NOT ZMLX_DEPS_PREFIX AND EXISTS "${PROJECT_SOURCE_DIR}/.carry/prefix/usr/include/pcre2.h")
  set(ZMLX_DEPS_PREFIX "${PROJECT_SOURCE_DIR}/.carry/prefix")
endif()
set(_zd_hints)
if(ZMLX_DEPS_PREFIX)
  get_filename_component(_zd_prefix "${ZMLX_DEPS_PREFIX}" ABSOLUTE)
  list(APPEND _zd_hints "${_zd_prefix}" "${_zd_prefix}/usr")
endif()
set(_zd_libdirs lib lib64)
if(CMAKE_LIBRARY_ARCHITECTURE)
  list(PREPEND _zd_libdirs lib/${CMAKE_LIBRARY_ARCHITECTURE})
endif()
if(ZMLX_STATIC_DEPS)
  set(_zd_pcre2 libpcre2-8.a pcre2-8)
  set(_zd_utf8proc libutf8proc.a utf8proc)
else()
  set(_zd_pcre2 pcre2-8)
  set(_zd_utf8proc utf8proc)
endif()

set(ZMLX_HAVE_TOKENIZER OFF)
if(NOT ZMLX_TOKENIZER STREQUAL "OFF")
  find_path(ZMLX_PCRE2_INCLUDE_DIR pcre2.h HINTS ${_zd_hints} PATH_SUFFIXES include)
  find_path(ZMLX_UTF8PROC_INCLUDE_DIR utf8proc.h HINTS ${_zd_hints} PATH_SUFFIXES include)
  find_library(ZMLX_PCRE2_LIBRARY NAMES ${_zd_pcre2} HINTS ${_zd_hints}
               PATH_SUFFIXES ${_zd_libdirs})
  find_library(ZMLX_UTF8PROC_LIBRARY NAMES ${_zd_utf8proc} HINTS ${_zd_hints}
               PATH_SUFFIXES ${_zd_libdirs})
  if(ZMLX_PCRE2_INCLUDE_DIR AND ZMLX_UTF8PROC_INCLUDE_DIR AND ZMLX_PCRE2_LIBRARY
     AND ZMLX_UTF8PROC_LIBRARY)
    set(ZMLX_HAVE_TOKENIZER ON)
    message(STATUS "zmlx tokenizer: ${ZMLX_PCRE2_LIBRARY}, ${ZMLX_UTF8PROC_LIBRARY}")
  elseif(ZMLX_TOKENIZER STREQUAL "ON")
    message(FATAL_ERROR "ZMLX_TOKENIZER=ON but PCRE2 or utf8proc is missing "
      "(pcre2.h: ${ZMLX_PCRE2_INCLUDE_DIR}, utf8proc.h: ${ZMLX_UTF8PROC_INCLUDE_DIR}, "
      "libs: ${ZMLX_PCRE2_LIBRARY} ${ZMLX_UTF8PROC_LIBRARY}); run scripts/deps.sh, or set "
      "ZMLX_DEPS_PREFIX to a prefix holding them (scripts/fetch_gpu_deps.sh)")
  else()
    message(WARNING "zmlx: PCRE2 or utf8proc not found (scripts/deps.sh installs them): "
      "the tokenizer is built as stubs that fail with UNSUPPORTED")
  endif()
endif()

# Without them, programs built after this point (tests, fuzz targets) see
# ZMLX_NO_TOKENIZER and leave out what needs the library's internals.
if(NOT ZMLX_HAVE_TOKENIZER)
  add_compile_definitions(ZMLX_NO_TOKENIZER=1)
endif()

set(ZMLX_TOKENIZER_LIBS)
set(ZMLX_TOKENIZER_STATIC_LIBS_BUILD)
set(ZMLX_TOKENIZER_STATIC_LIBS_INSTALL)
if(ZMLX_HAVE_TOKENIZER)
  set(ZMLX_TOKENIZER_LIBS ${ZMLX_PCRE2_LIBRARY} ${ZMLX_UTF8PROC_LIBRARY})
  set(ZMLX_TOKENIZER_STATIC_LIBS_BUILD ${ZMLX_PCRE2_LIBRARY} ${ZMLX_UTF8PROC_LIBRARY})
  # Installed, libzmlx.a's users link the system's copies by name.
  set(ZMLX_TOKENIZER_STATIC_LIBS_INSTALL pcre2-8 utf8proc)
endif()

# Applies the above to the library targets (called from CMakeLists.txt
# once zmlx_obj, zmlx and zmlx_static exist).
function(zmlx_tokenizer_link)
  if(ZMLX_HAVE_TOKENIZER)
    target_include_directories(zmlx_obj SYSTEM PRIVATE ${ZMLX_PCRE2_INCLUDE_DIR}
                               ${ZMLX_UTF8PROC_INCLUDE_DIR})
    target_link_libraries(zmlx PRIVATE ${ZMLX_TOKENIZER_LIBS})
    if(ZMLX_STATIC_DEPS AND ZMLX_PCRE2_LIBRARY MATCHES "\\.a$")
      # Their symbols stay inside libzmlx.so: no clash with another copy.
      target_link_options(zmlx PRIVATE "LINKER:--exclude-libs,ALL")
    endif()
    # Tests and fuzz targets (linked with libzmlx.a) read utf8proc.h too.
    target_include_directories(zmlx_static SYSTEM PUBLIC
      $<BUILD_INTERFACE:${ZMLX_UTF8PROC_INCLUDE_DIR}>)
    foreach(l ${ZMLX_TOKENIZER_STATIC_LIBS_BUILD})
      target_link_libraries(zmlx_static PUBLIC $<BUILD_INTERFACE:${l}>)
    endforeach()
    foreach(l ${ZMLX_TOKENIZER_STATIC_LIBS_INSTALL})
      target_link_libraries(zmlx_static PUBLIC $<INSTALL_INTERFACE:${l}>)
    endforeach()
  endif()
endfunction()

# The tokenizer's sources in `var` (a list from a glob over src/): the real
# ones, or only the stub when the libraries are missing.
function(zmlx_tokenizer_sources var)
  set(list ${${var}})
  list(FILTER list EXCLUDE REGEX "/src/tokenizer/")
  if(ZMLX_HAVE_TOKENIZER)
    file(GLOB _t CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/tokenizer/*.c)
  else()
    set(_t ${PROJECT_SOURCE_DIR}/src/tokenizer/stub/tokenizer_stub.c)
  endif()
  list(APPEND list ${_t})
  set(${var} ${list} PARENT_SCOPE)
endfunction()
