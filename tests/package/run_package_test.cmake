# One step of the packaging test (tests/CMakeLists.txt registers each MODE as a CTest test):
#   install           `cmake --install BUILD --prefix PREFIX`, then checks the installed files and
#                     runs the installed tool
#   find_package      builds consumer/ with find_package(biqa) from PREFIX, runs it
#   pkg_config        builds consumer/main.cpp with `pkg-config --cflags --libs biqa` from PREFIX
#                     (and -fno-rtti)
#   add_subdirectory  builds consumer/ with add_subdirectory(BIQA_SOURCE)
# Each consumer writes a PNG, the biqa tool (TOOL, when built) scores it with BRISQUE, and the
# consumer must get the same score through the library.
# Inputs: MODE BIQA_SOURCE BIQA_BUILD PREFIX WORK VERSION LIBDIR INCLUDEDIR BINDIR CXX LAUNCHER
#         TOOL (path or empty) EMBEDDED (ON when BRISQUE is compiled in) PKG_CONFIG
cmake_minimum_required(VERSION 3.25)

function(run)
  cmake_parse_arguments(R "" "WHAT" "COMMAND" ${ARGN})
  execute_process(COMMAND ${R_COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${R_WHAT} failed (${rc}):\n${R_COMMAND}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

# Builds ${exe} with ${cmake_args} (or ${compile} for pkg-config), then the score round trip.
function(check_consumer exe)
  set(png ${WORK}/picture.png)
  run(WHAT "writing the picture" COMMAND ${exe} write ${png})
  set(score "")
  if(TOOL)
    run(WHAT "biqa score" COMMAND ${TOOL} score --format jsonl ${png})
    string(JSON score GET "${out}" score)
  endif()
  run(WHAT "the consumer" COMMAND ${exe} check ${png} ${score})
  if(NOT out MATCHES "consumer ok, biqa ${VERSION}")
    message(FATAL_ERROR "unexpected consumer output: ${out}")
  endif()
  message(STATUS "${MODE}: ${out}")
endfunction()

set(consumer_dir ${CMAKE_CURRENT_LIST_DIR}/consumer)
set(compiler_args -DCMAKE_CXX_COMPILER=${CXX})
if(LAUNCHER)
  list(APPEND compiler_args -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE ${PREFIX})
  run(WHAT "cmake --install" COMMAND ${CMAKE_COMMAND} --install ${BIQA_BUILD} --prefix ${PREFIX})
  set(expected
    ${INCLUDEDIR}/biqa/biqa.hpp ${INCLUDEDIR}/biqa/version.hpp ${INCLUDEDIR}/biqa/models/registry.hpp
    ${LIBDIR}/cmake/biqa/biqaConfig.cmake ${LIBDIR}/cmake/biqa/biqaConfigVersion.cmake
    ${LIBDIR}/cmake/biqa/biqaTargets.cmake ${LIBDIR}/cmake/biqa/biqaDependencies.cmake
    ${LIBDIR}/pkgconfig/biqa.pc)
  if(EMBEDDED)
    list(APPEND expected ${INCLUDEDIR}/biqa/generated/brisque_live_model.hpp)
  endif()
  if(TOOL)
    list(APPEND expected ${BINDIR}/biqa)
  endif()
  foreach(f IN LISTS expected)
    if(NOT EXISTS ${PREFIX}/${f})
      message(FATAL_ERROR "not installed: ${PREFIX}/${f}")
    endif()
  endforeach()
  if(TOOL)
    run(WHAT "the installed biqa --version" COMMAND ${PREFIX}/${BINDIR}/biqa --version)
    if(NOT out STREQUAL "biqa ${VERSION}\n")
      message(FATAL_ERROR "installed biqa --version says '${out}', VERSION is ${VERSION}")
    endif()
  endif()
  list(LENGTH expected n)
  message(STATUS "installed into ${PREFIX}: all ${n} expected files present")

elseif(MODE STREQUAL "find_package")
  file(REMOVE_RECURSE ${WORK})
  run(WHAT "configuring the consumer" COMMAND ${CMAKE_COMMAND} -S ${consumer_dir} -B ${WORK}/build
      ${compiler_args} -DCMAKE_PREFIX_PATH=${PREFIX} -DBIQA_CONSUMER_MODE=find_package
      -DBIQA_EXPECTED_VERSION=${VERSION})
  # find_package must have used the installed copy, not a build tree or a system one.
  if(NOT out MATCHES "found biqa ${VERSION} in ${PREFIX}/")
    message(FATAL_ERROR "find_package(biqa) did not find the copy in ${PREFIX}:\n${out}")
  endif()
  run(WHAT "building the consumer" COMMAND ${CMAKE_COMMAND} --build ${WORK}/build)
  check_consumer(${WORK}/build/consumer)

elseif(MODE STREQUAL "pkg_config")
  file(REMOVE_RECURSE ${WORK})
  file(MAKE_DIRECTORY ${WORK})
  set(ENV{PKG_CONFIG_PATH} ${PREFIX}/${LIBDIR}/pkgconfig)
  run(WHAT "pkg-config --modversion biqa" COMMAND ${PKG_CONFIG} --modversion biqa)
  string(STRIP "${out}" v)
  if(NOT v STREQUAL VERSION)
    message(FATAL_ERROR "biqa.pc says version '${v}', VERSION is ${VERSION}")
  endif()
  run(WHAT "pkg-config --cflags --libs biqa" COMMAND ${PKG_CONFIG} --cflags --libs biqa)
  string(STRIP "${out}" flags)
  message(STATUS "pkg-config --cflags --libs biqa: ${flags}")
  if(NOT flags MATCHES "-I${PREFIX}/")
    message(FATAL_ERROR "biqa.pc does not point into ${PREFIX}: ${flags}")
  endif()
  # Compiled and linked in two steps, as a Makefile would (and so that ccache can cache the compile),
  # with -fno-rtti: a consumer without RTTI scores with BRISQUE (docs/packaging.md, "Build flags").
  run(WHAT "pkg-config --cflags biqa" COMMAND ${PKG_CONFIG} --cflags biqa)
  separate_arguments(cflags UNIX_COMMAND "${out}")
  run(WHAT "pkg-config --libs biqa" COMMAND ${PKG_CONFIG} --libs biqa)
  separate_arguments(libs UNIX_COMMAND "${out}")
  run(WHAT "compiling the consumer with pkg-config's --cflags"
      COMMAND ${LAUNCHER} ${CXX} -fno-rtti ${cflags} -c ${consumer_dir}/main.cpp -o ${WORK}/main.o)
  run(WHAT "linking the consumer with pkg-config's --libs"
      COMMAND ${CXX} ${WORK}/main.o -o ${WORK}/consumer ${libs})
  check_consumer(${WORK}/consumer)

elseif(MODE STREQUAL "add_subdirectory")
  file(REMOVE_RECURSE ${WORK})
  run(WHAT "configuring the consumer" COMMAND ${CMAKE_COMMAND} -S ${consumer_dir} -B ${WORK}/build
      ${compiler_args} -DBIQA_CONSUMER_MODE=add_subdirectory -DBIQA_SOURCE=${BIQA_SOURCE})
  run(WHAT "building the consumer" COMMAND ${CMAKE_COMMAND} --build ${WORK}/build)
  check_consumer(${WORK}/build/consumer)

else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
