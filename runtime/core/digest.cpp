#include "runtime/core/digest.hpp"

#include <openssl/evp.h>

#include <array>
#include <fstream>

#include <fmt/format.h>

#include "runtime/core/error.hpp"

namespace isolab {

struct Sha256::State {
    EVP_MD_CTX* context = nullptr;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
    state_->context = EVP_MD_CTX_new();
    if (state_->context == nullptr || EVP_DigestInit_ex(state_->context, EVP_sha256(), nullptr) != 1) {
        throw Error("cannot initialise SHA-256 (OpenSSL)");
    }
}

Sha256::~Sha256() {
    if (state_ && state_->context) EVP_MD_CTX_free(state_->context);
}

void Sha256::update(const void* data, size_t size) {
    EVP_DigestUpdate(state_->context, data, size);
}

std::string Sha256::finish_hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    EVP_DigestFinal_ex(state_->context, digest.data(), &length);
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
    return hex;
}

std::string sha256_digest(std::string_view data) {
    Sha256 hasher;
    hasher.update(data);
    return "sha256:" + hasher.finish_hex();
}

std::string sha256_file_digest(const std::filesystem::path& path) {
    std::ifstream stream(path, std::ios::binary);
    if (!stream) throw Error("cannot read " + path.string());
    Sha256 hasher;
    std::array<char, 1 << 16> buffer{};
    while (stream) {
        stream.read(buffer.data(), buffer.size());
        hasher.update(buffer.data(), static_cast<size_t>(stream.gcount()));
    }
    return "sha256:" + hasher.finish_hex();
}

}  // namespace isolab
