#pragma once
// SHA-256 digests (OpenSSL EVP) in the OCI form "sha256:<64 hex>".
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace isolab {

// Incremental SHA-256, for hashing a stream while it is written.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(const void* data, size_t size);
    void update(std::string_view data) { update(data.data(), data.size()); }
    // Returns the 64 lowercase hex digits. The object cannot be updated afterwards.
    std::string finish_hex();

private:
    struct State;
    std::unique_ptr<State> state_;
};

// "sha256:<hex>" of a string.
std::string sha256_digest(std::string_view data);

// "sha256:<hex>" of a file's content. Throws Error when it cannot be read.
std::string sha256_file_digest(const std::filesystem::path& path);

}  // namespace isolab
