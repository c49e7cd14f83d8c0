#include "api/errors.h"

#include <exception>

#include <stfpm/stfpm.h>

namespace stfpm {

void rethrow_as_error() {
  try {
    throw;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(e.what());
  } catch (...) {
    throw Error("unknown error");
  }
}

}  // namespace stfpm
