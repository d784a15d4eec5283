#pragma once
// vmlinux extraction: a bzImage carries the compressed kernel ELF as its "payload" (Linux
// boot protocol 2.08+, Documentation/arch/x86/boot.rst). Booting that ELF directly through
// its PVH entry point (ELF note "Xen", type 18 = XEN_ELFNOTE_PHYS32_ENTRY) skips the
// real-mode setup and the in-guest decompression, which under TCG costs a large share of
// the boot. These functions find, decompress and verify the payload; any failure becomes
// a reason string so the caller can fall back to the bzImage.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace isolab::vm::guest {

// The fields of the bzImage setup header that locate the payload.
struct SetupHeader {
    std::uint16_t version = 0;         // boot protocol, e.g. 0x020f for 2.15
    std::uint8_t setup_sects = 0;      // 512-byte sectors of real-mode setup (0 means 4)
    std::uint32_t payload_offset = 0;  // from the start of the protected-mode code
    std::uint32_t payload_length = 0;
    // Byte offset of the payload in the bzImage file.
    std::uint64_t payload_file_offset() const;
};

// Parses the setup header at offset 0x1f1. Throws Error when the "HdrS" magic is missing,
// the protocol is older than 2.08 (no payload fields) or the payload lies outside `image`.
SetupHeader parse_setup_header(std::string_view image);

enum class Compression { gzip, bzip2, lzma, xz, lzo, lz4, zstd, unknown };

// Detects the compression from the payload's magic bytes (the kernel may be built with
// any of them, so the format is never assumed).
Compression detect_compression(std::string_view payload);

// "gzip", "bzip2", "lzma", "xz", "lzo", "lz4", "zstd" or "unknown".
std::string compression_name(Compression compression);

// Decompresses a kernel payload: xz and lzma with liblzma, gzip, bzip2, lz4 and zstd
// through libarchive's raw filters. Bytes after the end of the compressed stream (the
// kernel build appends the uncompressed size) are ignored. Throws Error naming the
// format and the decoder's message on corrupt data or an unsupported format (lzo).
std::string decompress_payload(std::string_view payload, Compression compression);

// Decompresses one compressed stream (a kernel module .ko.xz, for example) with the
// same decoders as decompress_payload, ignoring bytes after the stream's end.
std::string decompress_stream(std::string_view data, Compression compression);

// Returns an empty string when `elf` is a 64-bit little-endian x86-64 ELF executable with
// a PVH entry note, otherwise the reason it is not bootable through PVH.
std::string check_pvh_elf(std::string_view elf);

// The outcome of extract_vmlinux: either a verified vmlinux or the reason there is none.
struct VmlinuxExtraction {
    bool extracted = false;
    std::filesystem::path vmlinux;   // set when extracted
    std::string compression;         // payload compression, when the header could be read
    std::string failure_reason;      // set when not extracted
};

// Extracts the payload of `bzimage`, decompresses and verifies it, and writes it
// atomically (0644) to `destination`. Never throws for a bad kernel: the reason is
// returned instead, so the caller boots the bzImage.
VmlinuxExtraction extract_vmlinux(const std::filesystem::path& bzimage,
                                  const std::filesystem::path& destination);

}  // namespace isolab::vm::guest
