#pragma once
// Runs the real webhookd binary as a child process, for what only a process can show:
// command-line handling, signals, exit codes.

#include <sys/types.h>

#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"

namespace webhookd::test {

class process {
public:
    // Starts `argv` with stdout and stderr captured, with this process's environment plus
    // `env` ("NAME=value", overriding). Throws on failure to spawn.
    explicit process(std::vector<std::string> argv, std::vector<std::string> env = {});
    ~process();  // SIGKILLs and reaps if still running
    process(const process&) = delete;
    process& operator=(const process&) = delete;

    // Reads stderr until a line containing `needle` appears (true) or the child ends or
    // `timeout_ms` passes (false). Lines read are kept in output().
    bool wait_for_line(const std::string& needle, int timeout_ms = 10000) {
        return wait_for_occurrences(needle, 1, timeout_ms);
    }
    // The same, until `needle` has appeared `count` times.
    bool wait_for_occurrences(const std::string& needle, std::size_t count, int timeout_ms = 10000);
    void signal(int sig);
    // Waits for exit; returns the exit code (128 + signal when killed), -1 on timeout.
    int wait(int timeout_ms = 10000);
    // All output read so far (stdout and stderr together).
    const std::string& output() const { return output_; }
    // From now on, reads and drops the child's output on a thread of its own, so that a
    // child that logs a lot never blocks on a full pipe; output() keeps what was read before.
    void discard_output();
    // Runs to completion and returns {exit code, output}.
    static std::pair<int, std::string> run(std::vector<std::string> argv, int timeout_ms = 10000);

private:
    bool read_some(int timeout_ms);
    pid_t pid_ = -1;
    int fd_ = -1;
    int status_ = -1;
    std::string output_;
    std::thread drain_;
};

// The first executable `name` on PATH, or "".
std::string find_program(const std::string& name);

// Writes DIR/webhookd.json for the real binary: both listeners on ephemeral ports (the test
// reads them from the log with port_from_log), the database in DIR. `extra` is spliced in at
// the top level, `storage` into the "storage" object; each starts with a comma.
std::string write_config(const temp_dir& dir, const std::string& extra = "", const std::string& storage = "");

// The port in the log line "<listener> listening on 127.0.0.1:<port>"; 0 if absent.
unsigned short port_from_log(const std::string& log, const std::string& listener);

}  // namespace webhookd::test
