# Writes <build>/generated/include/biqa/generated/brisque_live_model.hpp from OpenCV's
# LIVE-trained BRISQUE files (Debian opencv-data), so that the library scores with BRISQUE without
# any data file at run time. Nothing generated is committed; the YAML files stay the source.
set(BIQA_BRISQUE_YAML_DIR "/usr/share/opencv4/quality" CACHE PATH
    "Directory with brisque_model_live.yml and brisque_range_live.yml")
set(_model "${BIQA_BRISQUE_YAML_DIR}/brisque_model_live.yml")
set(_range "${BIQA_BRISQUE_YAML_DIR}/brisque_range_live.yml")
if(NOT EXISTS "${_model}" OR NOT EXISTS "${_range}")
  message(WARNING "BIQA_EMBED_BRISQUE_MODEL: ${_model} or ${_range} not found (apt-get install "
                  "opencv-data); BRISQUE will read the files at run time instead")
  return()
endif()
file(READ "${_model}" _model_text)
file(READ "${_range}" _range_text)
foreach(_t IN ITEMS _model_text _range_text)
  string(FIND "${${_t}}" ")biqa_yaml\"" _clash)
  if(NOT _clash EQUAL -1)
    message(FATAL_ERROR "BRISQUE YAML contains the raw-string delimiter; cannot embed")
  endif()
endforeach()
set(BIQA_GENERATED_INCLUDE_DIR "${PROJECT_BINARY_DIR}/generated/include")
set(_out "${BIQA_GENERATED_INCLUDE_DIR}/biqa/generated/brisque_live_model.hpp")
file(CONFIGURE OUTPUT "${_out}" CONTENT "#pragma once
// OpenCV's LIVE-trained BRISQUE model and feature ranges, embedded at build time from
// ${_model} and ${_range}.
#include <string_view>
namespace biqa::models::generated {
inline constexpr char brisque_model_live_yml[] = R\"biqa_yaml(@_model_text@)biqa_yaml\";
inline constexpr char brisque_range_live_yml[] = R\"biqa_yaml(@_range_text@)biqa_yaml\";
}  // namespace biqa::models::generated
" @ONLY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_model}" "${_range}")
target_include_directories(biqa INTERFACE $<BUILD_INTERFACE:${BIQA_GENERATED_INCLUDE_DIR}>)
target_compile_definitions(biqa INTERFACE BIQA_HAS_EMBEDDED_BRISQUE=1)
install(FILES "${_out}" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/biqa/generated)
set(BIQA_BRISQUE_EMBEDDED ON)
