// Every public entry point ends its body with `catch (...) { rethrow_as_error(); }`, so callers see one exception
// type (stfpm::Error) carrying the message of whatever failed inside (a file, a value, an allocation).
#pragma once

namespace stfpm {

// Rethrows the exception being handled: an Error as it is, any other std::exception as an Error with the same
// message, anything else as Error("unknown error"). Call only inside a catch block.
[[noreturn]] void rethrow_as_error();

}  // namespace stfpm
