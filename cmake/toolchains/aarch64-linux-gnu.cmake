# Cross build for 64-bit ARM Linux with Debian's cross compiler (g++-aarch64-linux-gnu) and
# multiarch :arm64 libraries; ctest runs the tests under qemu-user. See docs/cross-aarch64.md.
#   cmake -S . -B build-aarch64 --toolchain cmake/toolchains/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(BIQA_CROSS_TRIPLE aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${BIQA_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${BIQA_CROSS_TRIPLE}-g++)
# Debian multiarch: the :arm64 libraries live in /usr/lib/aarch64-linux-gnu, headers in /usr/include
# (shared) and /usr/include/aarch64-linux-gnu, which the cross compiler searches already. Setting
# the library architecture makes find_library/find_package look there and not in x86_64-linux-gnu.
set(CMAKE_LIBRARY_ARCHITECTURE ${BIQA_CROSS_TRIPLE})

# Header-only dependencies are architecture-independent, but only some Debian packages can be
# installed for arm64 (xtl-dev is Multi-Arch: no, so libxtensor-dev:arm64 is not installable):
# take the host's CMake package files for those.
if(NOT DEFINED xtensor_DIR AND EXISTS /usr/lib/x86_64-linux-gnu/cmake/xtensor)
  set(xtensor_DIR /usr/lib/x86_64-linux-gnu/cmake/xtensor CACHE PATH "")
endif()

# pkg-config (stb, libopenjp2) must read the arm64 .pc files, never the host's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${BIQA_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# ctest (and Catch2's test discovery) run the binaries through qemu-user. They run on the
# multiarch arm64 runtime (libc6:arm64, which the :arm64 -dev packages pull in, and
# libstdc++6:arm64), whose loader is /lib/ld-linux-aarch64.so.1. Not `-L /usr/aarch64-linux-gnu`:
# that sysroot's loader is libc6-arm64-cross, a different glibc build (2.36-8cross1 against
# libc6:arm64's 2.36-9+deb12uN), and ld.so.cache hands it libc6:arm64's libc.so.6; with the two
# mixed, the first pthread_create never returns. The sysroot is the fallback where no multiarch
# runtime is installed.
find_program(BIQA_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(BIQA_QEMU_AARCH64)
  if(EXISTS /lib/ld-linux-aarch64.so.1)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${BIQA_QEMU_AARCH64})
  else()
    set(CMAKE_CROSSCOMPILING_EMULATOR ${BIQA_QEMU_AARCH64} -L /usr/${BIQA_CROSS_TRIPLE})
  endif()
endif()

# Programs run at build time (none today) would be host programs; everything else is the target's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
