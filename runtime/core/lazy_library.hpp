#pragma once
// A shared library that isolab loads with dlopen() at the first call of one of its
// functions instead of linking it. Every isolab command starts without loading it and
// the libraries it needs, so only the commands that call it pay for the dynamic linking.
#include <mutex>
#include <string>

namespace isolab {

class LazyLibrary {
public:
    // `soname` is the file dlopen() loads (libarchive.so.13); `package` the Debian
    // package that ships it, named in errors.
    LazyLibrary(const char* soname, const char* package) : soname_(soname), package_(package) {}
    LazyLibrary(const LazyLibrary&) = delete;
    LazyLibrary& operator=(const LazyLibrary&) = delete;

    // The address of the function `name`, loading the library on the first call. Throws
    // Error naming the library and the package to install when either is missing.
    void* function(const char* name);

private:
    const char* soname_;
    const char* package_;
    std::once_flag once_;
    void* handle_ = nullptr;
    std::string failure_;
};

}  // namespace isolab
