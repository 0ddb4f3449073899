# Writes OUT: a C++ source defining webhookd::admin::detail::console_files() from the web
# console's files in DIR: index.html (the page) and every other file (an asset). Each asset
# is renamed with the start of its SHA-256 (app.js -> app.1a2b3c4d5e.js) and the page's
# references to /console/assets/NAME are rewritten to the hashed name, so an asset can be
# cached for ever and a new build is never served an old one.
file(GLOB files RELATIVE "${DIR}" "${DIR}/*")
list(SORT files)
list(REMOVE_ITEM files "index.html")
if(NOT EXISTS "${DIR}/index.html")
  message(FATAL_ERROR "${DIR}/index.html is missing")
endif()
file(READ "${DIR}/index.html" page)

# A raw string literal cannot hold its own end, ")console\"".
function(literal out_var content name)
  string(FIND "${content}" ")console\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "console/${name} contains the sequence )console\" and cannot be embedded")
  endif()
  set(${out_var} "R\"console(${content})console\"" PARENT_SCOPE)
endfunction()

set(entries "")
foreach(name IN LISTS files)
  if(IS_DIRECTORY "${DIR}/${name}")
    message(FATAL_ERROR "console/${name}: the console's assets are one folder, without subfolders")
  endif()
  get_filename_component(ext "${name}" LAST_EXT)
  get_filename_component(stem "${name}" NAME_WLE)
  if(ext STREQUAL ".js")
    set(type "text/javascript; charset=utf-8")
  elseif(ext STREQUAL ".css")
    set(type "text/css; charset=utf-8")
  elseif(ext STREQUAL ".svg")
    set(type "image/svg+xml")
  else()
    message(FATAL_ERROR "console/${name}: only .js, .css and .svg assets can be embedded")
  endif()
  file(READ "${DIR}/${name}" content)
  string(SHA256 digest "${content}")
  string(SUBSTRING "${digest}" 0 10 digest)
  set(hashed "${stem}.${digest}${ext}")
  string(REPLACE "/console/assets/${name}\"" "/console/assets/${hashed}\"" page "${page}")
  literal(body "${content}" "${name}")
  string(APPEND entries "    {\"assets/${hashed}\", \"${type}\", ${body}},\n")
endforeach()
literal(body "${page}" "index.html")

file(WRITE "${OUT}.tmp" "// Generated from console/ by cmake/embed_console.cmake. Do not edit.
#include \"admin/console.hpp\"

namespace webhookd::admin::detail {

const std::vector<console_file>& console_files() {
  static const std::vector<console_file> all = {
    {\"index.html\", \"text/html; charset=utf-8\", ${body}},
${entries}  };
  return all;
}

}  // namespace webhookd::admin::detail
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
