# cmake/check_layers.cmake refuses an include that runs against the layer order and passes
# the real tree:   cmake -DSOURCE_DIR=... -DLAYERS=... -DWORK=dir -P layers_test.cmake
cmake_minimum_required(VERSION 3.25)
set(check "${SOURCE_DIR}/cmake/check_layers.cmake")

execute_process(COMMAND "${CMAKE_COMMAND}" "-DSOURCE_DIR=${SOURCE_DIR}" "-DLAYERS=${LAYERS}" -P "${check}"
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the repository's own tree fails the layer check:\n${err}")
endif()

# A tree where the store includes a delivery header (and include/webhookd/ a src/ one).
file(REMOVE_RECURSE "${WORK}")
file(WRITE "${WORK}/src/util/ok.hpp" "#pragma once\n")
file(WRITE "${WORK}/src/store/fine.cpp" "#include \"util/ok.hpp\"\n#include <vector>\n")
file(WRITE "${WORK}/src/store/upwards.cpp" "#include \"store/fine.hpp\"\n  #  include \"delivery/signer.hpp\"\n")
file(WRITE "${WORK}/include/webhookd/api.hpp" "#include \"webhookd/result.hpp\"\n#include \"store/outbox_store.hpp\"\n")
execute_process(COMMAND "${CMAKE_COMMAND}" "-DSOURCE_DIR=${WORK}" "-DLAYERS=${LAYERS}" -P "${check}"
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "an include from src/store into src/delivery passed the layer check")
endif()
foreach(expected "src/store/upwards.cpp: #  include \"delivery/signer.hpp\"" "include/webhookd/api.hpp")
  string(FIND "${err}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the layer check did not name ${expected}:\n${err}")
  endif()
endforeach()
string(FIND "${err}" "fine.cpp" at)
if(NOT at EQUAL -1)
  message(FATAL_ERROR "the layer check refused an include that follows the layers:\n${err}")
endif()
message(STATUS "layer check: refuses upward includes, passes the tree")
