#include "runtime/core/lazy_library.hpp"

#include <dlfcn.h>

#include "runtime/core/error.hpp"

namespace isolab {

void* LazyLibrary::function(const char* name) {
    std::call_once(once_, [this] {
        handle_ = dlopen(soname_, RTLD_NOW | RTLD_LOCAL);
        if (handle_ == nullptr) failure_ = dlerror();
    });
    if (handle_ == nullptr) {
        throw Error(std::string("cannot load ") + soname_ + ": " + failure_,
                    std::string("install it with 'apt-get install ") + package_ + "'");
    }
    void* address = dlsym(handle_, name);
    if (address == nullptr) {
        throw Error(std::string(soname_) + " has no function " + name + ": " + dlerror(),
                    std::string("update it with 'apt-get install ") + package_ + "'");
    }
    return address;
}

}  // namespace isolab
