// Built as a shared library for LD_PRELOAD: with WEBHOOKD_FAULTFS=undo in the environment,
// installs faultfs with its undo log as SQLite's default VFS before main runs, so an
// unmodified webhookd binary records the writes a power cut could lose (see faultfs.hpp).

#include <cstdlib>
#include <string_view>

#include "support/faultfs.hpp"

namespace {

__attribute__((constructor)) void install_from_environment() {
    const char* mode = std::getenv("WEBHOOKD_FAULTFS");
    if (mode && std::string_view(mode) == "undo") webhookd::test::faultfs::install(true);
}

}  // namespace
