# embed_pages.cmake — turns templates/admin/html/*.mustache (the admin pages) into one C++ source
# with a map NAME → content, run at build time. They live one folder deeper than the mail
# templates so that templates/CMakeLists.txt (LOCALE/NAME.mustache) does not take them as a locale.
file(GLOB pages "${PAGES_DIR}/*.mustache")
list(SORT pages)
set(out "// Generated from templates/admin/html by embed_pages.cmake: do not edit.\n#include <map>\n#include <string>\nnamespace atendd {\nconst std::map<std::string, std::string>& admin_pages() {\n  static const std::map<std::string, std::string> pages{\n")
foreach(page ${pages})
  get_filename_component(name "${page}" NAME_WE)
  file(READ "${page}" content)
  string(APPEND out "    {\"${name}\", R\"atendd_page(${content})atendd_page\"},\n")
endforeach()
string(APPEND out "  };\n  return pages;\n}\n}  // namespace atendd\n")
file(WRITE "${OUTPUT}.tmp" "${out}")
execute_process(COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
