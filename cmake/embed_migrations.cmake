# Writes OUT: a C++ source defining webhookd::detail::embedded_migrations() from the
# migration files FILES (named NNNN_name.sql, already sorted).
# FILES: the migration files, joined by '|'.
string(REPLACE "|" ";" FILES "${FILES}")
set(body "")
foreach(file IN LISTS FILES)
  get_filename_component(name "${file}" NAME_WE)
  string(REGEX MATCH "^([0-9]+)_(.+)$" _ "${name}")
  if(NOT CMAKE_MATCH_1)
    message(FATAL_ERROR "migration file ${file} is not named NNNN_name.sql")
  endif()
  file(READ "${file}" sql)
  math(EXPR version "${CMAKE_MATCH_1}")
  string(APPEND body "    {${version}, \"${CMAKE_MATCH_2}\", R\"__sql__(${sql})__sql__\"},\n")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated from migrations/*.sql by cmake/embed_migrations.cmake. Do not edit.
#include \"store/migrations.hpp\"

namespace webhookd::detail {

const std::vector<migration>& embedded_migrations() {
  static const std::vector<migration> all = {
${body}  };
  return all;
}

}  // namespace webhookd::detail
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
