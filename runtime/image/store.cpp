#include "runtime/image/store.hpp"

#include "runtime/core/error.hpp"

namespace isolab::image {

Store::Store(Paths paths) : paths_(std::move(paths)) {}

}  // namespace isolab::image
