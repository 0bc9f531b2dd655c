# Builds the tiny project in consumer/project against biqa, either through add_subdirectory or
# through find_package after installing biqa into a staging prefix, then runs it.
file(REMOVE_RECURSE ${WORK})
set(project_dir ${CMAKE_CURRENT_LIST_DIR}/project)
if(MODE STREQUAL "find_package")
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${BIQA_SOURCE} -B ${WORK}/biqa-build
                          -DBIQA_BUILD_TESTS=OFF -DBIQA_BUILD_EXAMPLES=OFF -DBIQA_BUILD_TOOLS=OFF
                          -DCMAKE_INSTALL_PREFIX=${WORK}/prefix
                  RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "configuring biqa failed")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${WORK}/biqa-build RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "installing biqa failed")
  endif()
  set(args -DCMAKE_PREFIX_PATH=${WORK}/prefix -DBIQA_CONSUMER_MODE=find_package)
else()
  set(args -DBIQA_CONSUMER_MODE=add_subdirectory -DBIQA_SOURCE=${BIQA_SOURCE})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${project_dir} -B ${WORK}/build ${args}
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the consumer failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the consumer failed")
endif()
execute_process(COMMAND ${WORK}/build/consumer OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(rc OR NOT out MATCHES "consumer ok")
  message(FATAL_ERROR "the consumer did not run correctly: rc=${rc} output=${out}")
endif()
message(STATUS "${MODE}: ${out}")
