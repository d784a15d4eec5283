#include "vmdriver/guest/vmlinux.hpp"

#include <archive.h>
#include <elf.h>
#include <lzma.h>

#include <array>
#include <cstring>
#include <memory>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"

namespace isolab::vm::guest {

namespace {

// Offsets in the bzImage from Documentation/arch/x86/boot.rst (boot protocol 2.08+).
constexpr std::size_t setup_sects_offset = 0x1f1;
constexpr std::size_t header_magic_offset = 0x202;
constexpr std::size_t version_offset = 0x206;
constexpr std::size_t payload_offset_offset = 0x248;
constexpr std::size_t payload_length_offset = 0x24c;
constexpr std::uint16_t first_version_with_payload = 0x0208;

// The PVH entry note QEMU looks for (include/xen/interface/elfnote.h).
constexpr std::uint32_t xen_elfnote_phys32_entry = 18;

template <typename Integer>
Integer read_little_endian(std::string_view bytes, std::size_t offset) {
    Integer value = 0;
    for (std::size_t i = 0; i < sizeof(Integer); ++i) {
        value = static_cast<Integer>(value | static_cast<Integer>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i));
    }
    return value;
}

bool starts_with_bytes(std::string_view data, std::string_view magic) {
    return data.size() >= magic.size() && data.substr(0, magic.size()) == magic;
}

std::string decode_with_liblzma(std::string_view payload, bool legacy_lzma) {
    lzma_stream stream = LZMA_STREAM_INIT;
    lzma_ret status = legacy_lzma ? lzma_alone_decoder(&stream, UINT64_MAX)
                                  : lzma_stream_decoder(&stream, UINT64_MAX, 0);
    if (status != LZMA_OK) throw Error("cannot initialise the liblzma decoder (error " + std::to_string(status) + ")");
    std::unique_ptr<lzma_stream, void (*)(lzma_stream*)> owner(&stream, lzma_end);

    std::string output;
    std::array<char, 1 << 20> buffer{};
    stream.next_in = reinterpret_cast<const std::uint8_t*>(payload.data());
    stream.avail_in = payload.size();
    // Without LZMA_CONCATENATED the decoder stops at the end of the first stream, so the
    // uncompressed size the kernel build appends after it is not read as data.
    while (true) {
        stream.next_out = reinterpret_cast<std::uint8_t*>(buffer.data());
        stream.avail_out = buffer.size();
        status = lzma_code(&stream, LZMA_FINISH);
        output.append(buffer.data(), buffer.size() - stream.avail_out);
        if (status == LZMA_STREAM_END) return output;
        if (status != LZMA_OK) {
            std::string format = legacy_lzma ? "lzma" : "xz";
            throw Error(format + " data is corrupt: liblzma error " + std::to_string(status) + " after " +
                        std::to_string(output.size()) + " output bytes");
        }
    }
}

std::string decode_with_libarchive(std::string_view payload, Compression compression) {
    std::unique_ptr<archive, int (*)(archive*)> reader(archive_read_new(), archive_read_free);
    archive_read_support_filter_all(reader.get());
    archive_read_support_format_raw(reader.get());
    std::string format = compression_name(compression);
    if (archive_read_open_memory(reader.get(), payload.data(), payload.size()) != ARCHIVE_OK) {
        throw Error(format + " data cannot be opened: " + archive_error_string(reader.get()));
    }
    archive_entry* entry = nullptr;
    if (archive_read_next_header(reader.get(), &entry) != ARCHIVE_OK) {
        throw Error(format + " data cannot be read: " + archive_error_string(reader.get()));
    }

    std::string output;
    std::array<char, 1 << 20> buffer{};
    while (true) {
        la_ssize_t count = archive_read_data(reader.get(), buffer.data(), buffer.size());
        if (count == 0) return output;
        if (count < 0) {
            throw Error(format + " data is corrupt after " + std::to_string(output.size()) +
                        " output bytes: " + archive_error_string(reader.get()));
        }
        output.append(buffer.data(), static_cast<std::size_t>(count));
    }
}

// The kernel build appends the uncompressed size (32-bit little-endian) after every
// payload except gzip, whose trailer already records it (scripts/Makefile.lib, size_append).
bool has_appended_size(Compression compression) {
    return compression != Compression::gzip;
}

void check_appended_size(std::string_view payload, std::size_t decompressed, Compression compression) {
    if (!has_appended_size(compression) || payload.size() < 4) return;
    auto recorded = read_little_endian<std::uint32_t>(payload, payload.size() - 4);
    if (recorded != static_cast<std::uint32_t>(decompressed)) {
        throw Error(compression_name(compression) + " payload decompressed to " + std::to_string(decompressed) +
                    " bytes, but the size recorded after it is " + std::to_string(recorded));
    }
}

std::string check_elf_header(std::string_view elf) {
    if (elf.size() < sizeof(Elf64_Ehdr) || !starts_with_bytes(elf, ELFMAG)) return "the payload is not an ELF file";
    Elf64_Ehdr header{};
    std::memcpy(&header, elf.data(), sizeof header);
    if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB) {
        return "the payload ELF is not 64-bit little-endian";
    }
    if (header.e_machine != EM_X86_64) return "the payload ELF is not for x86-64 (e_machine " + std::to_string(header.e_machine) + ")";
    if (header.e_type != ET_EXEC) return "the payload ELF is not an executable (e_type " + std::to_string(header.e_type) + ")";
    std::uint64_t table_end = header.e_phoff + std::uint64_t{header.e_phnum} * sizeof(Elf64_Phdr);
    if (header.e_phentsize != sizeof(Elf64_Phdr) || table_end > elf.size()) return "the payload ELF program header table is invalid";
    return {};
}

bool notes_contain_pvh_entry(std::string_view notes) {
    std::size_t offset = 0;
    auto align4 = [](std::uint64_t size) { return (size + 3) & ~std::uint64_t{3}; };
    while (offset + sizeof(Elf64_Nhdr) <= notes.size()) {
        Elf64_Nhdr note{};
        std::memcpy(&note, notes.data() + offset, sizeof note);
        std::uint64_t name_start = offset + sizeof note;
        std::uint64_t desc_start = name_start + align4(note.n_namesz);
        std::uint64_t next = desc_start + align4(note.n_descsz);
        if (next > notes.size()) return false;
        std::string_view name = notes.substr(name_start, note.n_namesz);
        if (name == std::string_view("Xen\0", 4) && note.n_type == xen_elfnote_phys32_entry) return true;
        offset = next;
    }
    return false;
}

}  // namespace

std::uint64_t SetupHeader::payload_file_offset() const {
    unsigned sectors = setup_sects == 0 ? 4 : setup_sects;
    return (std::uint64_t{sectors} + 1) * 512 + payload_offset;
}

SetupHeader parse_setup_header(std::string_view image) {
    if (image.size() < payload_length_offset + 4 || image.substr(header_magic_offset, 4) != "HdrS") {
        throw Error("not a bzImage: the setup header magic \"HdrS\" is missing at offset 0x202");
    }
    SetupHeader header;
    header.setup_sects = static_cast<std::uint8_t>(image[setup_sects_offset]);
    header.version = read_little_endian<std::uint16_t>(image, version_offset);
    if (header.version < first_version_with_payload) {
        throw Error(fmt::format("bzImage boot protocol {}.{:02} has no payload fields (2.08 or later needed)",
                                header.version >> 8, header.version & 0xff));
    }
    header.payload_offset = read_little_endian<std::uint32_t>(image, payload_offset_offset);
    header.payload_length = read_little_endian<std::uint32_t>(image, payload_length_offset);
    if (header.payload_length == 0 || header.payload_file_offset() + header.payload_length > image.size()) {
        throw Error(fmt::format("bzImage payload (offset {}, length {}) lies outside the {}-byte file",
                                header.payload_file_offset(), header.payload_length, image.size()));
    }
    return header;
}

Compression detect_compression(std::string_view payload) {
    // Magic numbers as in the kernel's lib/decompress.c table.
    if (starts_with_bytes(payload, "\x1f\x8b")) return Compression::gzip;
    if (starts_with_bytes(payload, "BZh")) return Compression::bzip2;
    if (starts_with_bytes(payload, std::string_view("\x5d\x00\x00", 3))) return Compression::lzma;
    if (starts_with_bytes(payload, "\xfd" "7zXZ")) return Compression::xz;
    if (starts_with_bytes(payload, "\x89LZO")) return Compression::lzo;
    if (starts_with_bytes(payload, "\x02\x21\x4c\x18")) return Compression::lz4;
    if (starts_with_bytes(payload, "\x28\xb5\x2f\xfd")) return Compression::zstd;
    return Compression::unknown;
}

std::string compression_name(Compression compression) {
    switch (compression) {
        case Compression::gzip: return "gzip";
        case Compression::bzip2: return "bzip2";
        case Compression::lzma: return "lzma";
        case Compression::xz: return "xz";
        case Compression::lzo: return "lzo";
        case Compression::lz4: return "lz4";
        case Compression::zstd: return "zstd";
        case Compression::unknown: break;
    }
    return "unknown";
}

std::string decompress_stream(std::string_view data, Compression compression) {
    switch (compression) {
        case Compression::xz: return decode_with_liblzma(data, false);
        case Compression::lzma: return decode_with_liblzma(data, true);
        case Compression::gzip:
        case Compression::bzip2:
        case Compression::lz4:
        case Compression::zstd: return decode_with_libarchive(data, compression);
        case Compression::lzo: throw Error("lzo data is not supported (no lzo decoder is linked)");
        case Compression::unknown: break;
    }
    throw Error("the compression is unknown (the magic bytes match no kernel compressor)");
}

std::string decompress_payload(std::string_view payload, Compression compression) {
    // The appended size is not part of the compressed stream. liblzma stops at the end of
    // its stream by itself; libarchive's bzip2, lz4 and zstd readers would read it as data.
    bool strip_size = compression == Compression::bzip2 || compression == Compression::lz4 ||
                      compression == Compression::zstd;
    std::string output = decompress_stream(strip_size && payload.size() >= 4 ? payload.substr(0, payload.size() - 4)
                                                                              : payload,
                                           compression);
    check_appended_size(payload, output.size(), compression);
    return output;
}

std::string check_pvh_elf(std::string_view elf) {
    if (auto problem = check_elf_header(elf); !problem.empty()) return problem;

    Elf64_Ehdr header{};
    std::memcpy(&header, elf.data(), sizeof header);
    for (unsigned i = 0; i < header.e_phnum; ++i) {
        Elf64_Phdr program{};
        std::memcpy(&program, elf.data() + header.e_phoff + i * sizeof(Elf64_Phdr), sizeof program);
        if (program.p_type != PT_NOTE) continue;
        if (program.p_offset + program.p_filesz > elf.size()) return "a PT_NOTE segment lies outside the ELF file";
        if (notes_contain_pvh_entry(elf.substr(program.p_offset, program.p_filesz))) return {};
    }
    return "the ELF has no PVH entry note (Xen, XEN_ELFNOTE_PHYS32_ENTRY); the kernel was built without CONFIG_PVH";
}

VmlinuxExtraction extract_vmlinux(const std::filesystem::path& bzimage, const std::filesystem::path& destination) {
    VmlinuxExtraction result;
    try {
        std::string image = read_file(bzimage);
        SetupHeader header = parse_setup_header(image);
        std::string_view payload = std::string_view(image).substr(header.payload_file_offset(), header.payload_length);
        Compression compression = detect_compression(payload);
        result.compression = compression_name(compression);
        spdlog::debug("bzImage {}: boot protocol {:#06x}, payload {} bytes at {}, {}", bzimage.string(), header.version,
                      header.payload_length, header.payload_file_offset(), result.compression);

        std::string elf = decompress_payload(payload, compression);
        if (auto problem = check_pvh_elf(elf); !problem.empty()) throw Error(problem);
        write_file_atomic(destination, elf, 0644);
        spdlog::debug("extracted vmlinux {} ({} bytes) with a PVH entry note", destination.string(), elf.size());
        result.extracted = true;
        result.vmlinux = destination;
    } catch (const Error& error) {
        result.failure_reason = error.what();
        spdlog::debug("no vmlinux from {}: {}", bzimage.string(), result.failure_reason);
    }
    return result;
}

}  // namespace isolab::vm::guest
