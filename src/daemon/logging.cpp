#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "webhookd/daemon.hpp"

namespace webhookd {

namespace {

// %* in a pattern: the message escaped as the inside of a JSON string.
class json_message_flag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        static constexpr char hex[] = "0123456789abcdef";
        for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
            auto u = static_cast<unsigned char>(c);
            if (c == '"' || c == '\\') {
                dest.push_back('\\');
                dest.push_back(c);
            } else if (c == '\n') {
                dest.append(std::string_view("\\n"));
            } else if (u < 0x20) {
                const char esc[] = {'\\', 'u', '0', '0', hex[u >> 4], hex[u & 15]};
                dest.append(esc, esc + sizeof esc);
            } else {
                dest.push_back(c);
            }
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<json_message_flag>(); }
};

// Appends to log.file. logrotate moves the file away and sends SIGHUP: reopen() then
// starts a new file at the same path, and nothing is written to the moved one after that.
class reopenable_file_sink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    explicit reopenable_file_sink(std::string path) : path_(std::move(path)) {}
    ~reopenable_file_sink() override {
        if (file_) std::fclose(file_);
    }

    // Opens (again) the path; on failure the current file stays in use.
    status reopen() {
        std::FILE* f = std::fopen(path_.c_str(), "ae");
        if (!f) return error{error_code::log_file, "cannot open log.file " + path_ + ": " + std::strerror(errno)};
        std::lock_guard lock(mutex_);
        if (file_) std::fclose(file_);
        file_ = f;
        return ok_v;
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        if (!file_) return;
        spdlog::memory_buf_t line;
        formatter_->format(msg, line);
        std::fwrite(line.data(), 1, line.size(), file_);
    }
    void flush_() override {
        if (file_) std::fflush(file_);
    }

private:
    std::string path_;
    std::FILE* file_ = nullptr;
};

}  // namespace

result<std::shared_ptr<spdlog::logger>> make_logger(const log_config& cfg) {
    spdlog::sink_ptr sink;
    if (cfg.file.empty()) {
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    } else {
        auto file = std::make_shared<reopenable_file_sink>(cfg.file);
        if (auto s = file->reopen(); !s) return s.err();
        sink = std::move(file);
    }
    auto log = std::make_shared<spdlog::logger>("webhookd", std::move(sink));
    if (cfg.format == log_format::json) {
        auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
        formatter->add_flag<json_message_flag>('*').set_pattern(
            R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%*"})");
        log->set_formatter(std::move(formatter));
    } else {
        log->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
    }
    log->set_level(spdlog::level::from_str(std::string(to_string(cfg.level))));
    log->flush_on(spdlog::level::info);
    return log;
}

status reopen_log_files(spdlog::logger& log) {
    for (auto& sink : log.sinks()) {
        if (auto* file = dynamic_cast<reopenable_file_sink*>(sink.get())) {
            if (auto s = file->reopen(); !s) return s;
        }
    }
    return ok_v;
}

}  // namespace webhookd
