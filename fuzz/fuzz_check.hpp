#pragma once
// FUZZ_CHECK(condition, message): an invariant of a fuzz target. When it does not hold, the
// message (any expression convertible to std::string, evaluated only then) goes to stderr
// and the process aborts, which libFuzzer reports as a crash and saves the input.

#include <cstdio>
#include <cstdlib>
#include <string>

#define FUZZ_CHECK(condition, message)                                                                     \
    do {                                                                                                   \
        if (!(condition)) {                                                                                \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n  %s\n", __FILE__, __LINE__, #condition,    \
                         std::string(message).c_str());                                                    \
            std::abort();                                                                                  \
        }                                                                                                  \
    } while (false)
