# Target helpers: every kabar target goes through these, so include paths,
# warnings and test registration are set in one place.

set(KABAR_WARNINGS -Wall -Wextra -Wno-unused-parameter)

# kabar_cc_library(NAME SRCS ... DEPS ...)
function(kabar_cc_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${KABAR_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# kabar_cc_binary(NAME SRCS ... DEPS ...): the binary lands in the build's bin/.
function(kabar_cc_binary name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${KABAR_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
endfunction()

# kabar_cc_test(NAME SRCS ... DEPS ... [LABELS ...] [SINGLE_PROCESS]): a
# GoogleTest binary whose tests ctest discovers one by one. Default label:
# unit. SINGLE_PROCESS runs the whole binary as one ctest instead, for suites
# whose shared set-up (SetUpTestSuite) is too costly to repeat per test.
function(kabar_cc_test name)
  cmake_parse_arguments(ARG "SINGLE_PROCESS" "" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${KABAR_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    KABAR_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    KABAR_BINARY_DIR="${PROJECT_BINARY_DIR}")
  if(ARG_SINGLE_PROCESS)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  else()
    gtest_discover_tests(${name}
      PROPERTIES LABELS "${ARG_LABELS}"
      DISCOVERY_TIMEOUT 60)
  endif()
endfunction()
