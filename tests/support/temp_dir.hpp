#pragma once
// A fresh directory under $TMPDIR, removed with everything in it on destruction.

#include <filesystem>
#include <string>

namespace webhookd::test {

// The bytes of the file at `path`; "" when it cannot be read (absent, say).
std::string read_file(const std::filesystem::path& path);

class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

}  // namespace webhookd::test
