// JSON documents (metrics.json and other reports) through nlohmann-json: objects keep their keys in insertion
// order (ordered_json), so files are stable and diffable.
//
// Numbers: integers are exact; doubles print with the shortest text that reads back to the same double (0.1 is
// "0.1"). NaN and +-Inf are not JSON and print as null: an undefined metric (e.g. ROC-AUC without defect images)
// reads back as null/None in every JSON library. A float that should print as the float it is (0.1f as 0.1, not
// 0.10000000149011612) goes through json_float().
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace stfpm {

using Json = nlohmann::ordered_json;

// The double whose shortest text is the float's shortest text (0.1f -> 0.1).
double json_float(float v);
// The document pretty-printed with `indent` spaces and a final newline, written atomically (write_file_atomic).
void write_json_file(const std::string& path, const Json& value, int indent = 2);

}  // namespace stfpm
