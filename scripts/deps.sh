#!/usr/bin/env bash
# Install what building and testing ZMLX needs on a Debian/Ubuntu machine:
# a C compiler and libc headers (gcc brings libgomp), cmake, ninja, make,
# pkg-config and git; PCRE2 and utf8proc for the tokenizer; OpenBLAS for
# the CPU matmul; clang and its
# libFuzzer runtime for the fuzz stage.
# Nothing else: CUDA is optional and found at run time.
#
# Fast and silent when everything is present. As root, runs apt-get (an
# `apt-get update` first, only when something is missing); otherwise prints
# the exact command to run and exits 1.
set -euo pipefail

# package -> how to tell it is present
missing=()
need_cmd() { # need_cmd PACKAGE COMMAND...
  local pkg=$1; shift
  local c
  for c in "$@"; do
    if ! command -v "$c" >/dev/null 2>&1; then
      missing+=("$pkg")
      return
    fi
  done
}
need_pkg() { # need_pkg PACKAGE: an installed dpkg package (no command to test)
  if command -v dpkg-query >/dev/null 2>&1; then
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" != installed ]; then
      missing+=("$1")
    fi
  fi
}

need_cmd gcc gcc cc
need_pkg libc6-dev            # gcc only recommends it; we install without recommends
need_cmd cmake cmake
need_cmd ninja-build ninja
need_cmd make make
need_cmd pkg-config pkg-config
need_cmd git git
# The tokenizer: PCRE2 (its regexes, with JIT) and utf8proc (normalization).
need_pkg libpcre2-dev
need_pkg libutf8proc-dev
need_pkg libopenblas-dev       # the CPU matmul (its static archive is linked into libzmlx)
# libgomp: a dependency of gcc on Debian; checked in case gcc came from elsewhere.
if command -v gcc >/dev/null 2>&1; then
  case "$(gcc -print-file-name=libgomp.so 2>/dev/null)" in
    /*) ;;
    *) need_pkg libgomp1 ;;
  esac
fi

# clang with its libFuzzer runtime: the fuzz stage (scripts/fuzz.sh). The
# runtime is only recommended by clang, so it is named: the version that
# matches the installed clang, else the distribution default's.
need_cmd clang clang
if command -v clang >/dev/null 2>&1; then
  case "$(clang -print-file-name="libclang_rt.fuzzer-$(uname -m).a" 2>/dev/null)" in
    /*) ;;
    *) missing+=("libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev") ;;
  esac
else
  missing+=(libclang-rt-dev)
fi

check_cmake_version() {
  command -v cmake >/dev/null 2>&1 || return 0
  local v major minor
  v=$(cmake --version | sed -n 's/^cmake version \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p')
  major=${v%%.*}; minor=${v#*.}
  if [ -z "$v" ] || [ "$major" -lt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -lt 20 ]; }; then
    echo "deps.sh: cmake ${v:-?} is too old; ZMLX needs cmake >= 3.20" >&2
    echo "deps.sh: (on Debian 11 use bullseye-backports, or 'pip install cmake')" >&2
    return 1
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  check_cmake_version
  exit 0
fi

# Unique, in order.
pkgs=()
for p in "${missing[@]}"; do
  case " ${pkgs[*]-} " in *" $p "*) ;; *) pkgs+=("$p") ;; esac
done

if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps.sh: missing: ${pkgs[*]}; no apt-get on this machine, install them with its package manager" >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing: ${pkgs[*]}" >&2
  echo "deps.sh: run this, then try again:" >&2
  echo "sudo apt-get update && sudo apt-get install -y --no-install-recommends ${pkgs[*]}"
  exit 1
fi

echo "deps.sh: installing ${pkgs[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${pkgs[@]}"
check_cmake_version
