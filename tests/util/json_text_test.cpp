#include "util/json_text.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace webhookd {
namespace {

// The hot paths write JSON strings by hand; they must read exactly as nlohmann writes them.
TEST(append_json_string, writes_what_nlohmann_dumps) {
    std::string all_controls;
    for (int c = 1; c < 0x20; ++c) all_controls += static_cast<char>(c);
    for (std::string s : {std::string(), std::string("evt_01J9ZK"), std::string("say \"hi\" \\ /"),
                          std::string("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), all_controls, std::string(1, '\0')}) {
        std::string out = "x";
        append_json_string(out, s);
        EXPECT_EQ(out, "x" + nlohmann::json(s).dump()) << s;
    }
}

}  // namespace
}  // namespace webhookd
