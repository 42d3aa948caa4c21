# The Windows build's dependencies: header-only libraries from Debian's -dev packages
# (through a private folder of links, never /usr/include), and LMDB and date/tz's
# tz.cpp compiled from Debian's source packages. scripts/fetch-windows-deps.sh fetches
# them into build-deps/windows.
set(WINDEPS ${PROJECT_SOURCE_DIR}/build-deps/windows)
if(NOT EXISTS ${WINDEPS}/.complete-v2)
  message(FATAL_ERROR "run scripts/fetch-windows-deps.sh first (Windows sources missing)")
endif()
add_compile_definitions(NOMINMAX WIN32_LEAN_AND_MEAN UNICODE _UNICODE _WIN32_WINNT=0x0A00)

add_library(cg_headers INTERFACE)
target_include_directories(cg_headers SYSTEM INTERFACE ${WINDEPS}/include)
target_compile_definitions(cg_headers INTERFACE
  SPDLOG_HEADER_ONLY FMT_HEADER_ONLY SPDLOG_FMT_EXTERNAL
  ONLY_C_LOCALE=1 HAS_STRING_VIEW=1 USE_OS_TZDB=0 HAS_REMOTE_API=0 AUTO_DOWNLOAD=0)
foreach(alias cereal::cereal spdlog::spdlog CLI11::CLI11 nlohmann_json::nlohmann_json)
  string(REPLACE "::" "_" name ${alias})
  add_library(${name}_win INTERFACE)
  target_link_libraries(${name}_win INTERFACE cg_headers)
  add_library(${alias} ALIAS ${name}_win)
endforeach()

# LMDB. Without -fno-isolate-erroneous-paths-dereference GCC 12 -O2 makes
# mdb_strerror() return NULL on Windows (WINDOWS.md).
add_library(lmdb_win STATIC ${WINDEPS}/lmdb/mdb.c ${WINDEPS}/lmdb/midl.c)
target_include_directories(lmdb_win PUBLIC ${WINDEPS}/lmdb)
target_compile_options(lmdb_win PRIVATE -w -fno-isolate-erroneous-paths-dereference)
target_link_libraries(lmdb_win PUBLIC ntdll)
set(LMDB_LIBRARY lmdb_win)
set(LMDBXX_INCLUDE_DIR ${WINDEPS}/include)

# date/tz, reading the IANA text tzdata shipped next to the exe (date::set_install).
add_library(date_tz_win STATIC ${WINDEPS}/date/src/tz.cpp)
target_compile_options(date_tz_win PRIVATE -w)
target_link_libraries(date_tz_win PUBLIC cg_headers ole32 shell32)
add_library(date::date-tz ALIAS date_tz_win)

# GoogleTest, built from Debian's sources with this toolchain.
if(CHRONOGRAPH_TESTS)
  set(gtest_force_shared_crt ON CACHE BOOL "" FORCE)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
  add_subdirectory(/usr/src/googletest ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
  if(NOT TARGET GTest::gtest)
    add_library(GTest::gtest ALIAS gtest)
    add_library(GTest::gtest_main ALIAS gtest_main)
  endif()
endif()

# The time-zone data the exes read, copied next to them.
file(COPY ${WINDEPS}/tzdata DESTINATION ${CMAKE_BINARY_DIR}/bin)
