// Payload detection, decompression and the PVH note check on synthetic kernels.
#include <elf.h>
#include <gtest/gtest.h>
#include <lzma.h>

#include <cstring>
#include <filesystem>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "vmdriver/guest/vmlinux.hpp"

using namespace isolab::vm::guest;
namespace fs = std::filesystem;

namespace {

std::string bytes(std::initializer_list<int> values) {
    std::string text;
    for (int value : values) text += static_cast<char>(value);
    return text;
}

void put32(std::string& data, std::size_t offset, std::uint32_t value) {
    for (int i = 0; i < 4; ++i) data[offset + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

void append_note(std::string& notes, std::string_view name, std::uint32_t type, std::uint32_t descriptor_size) {
    Elf64_Nhdr header{static_cast<Elf64_Word>(name.size()), descriptor_size, type};
    notes.append(reinterpret_cast<const char*>(&header), sizeof header);
    notes.append(name);
    notes.append((4 - name.size() % 4) % 4, '\0');
    notes.append((descriptor_size + 3) / 4 * 4, '\x11');
}

// A minimal x86-64 ET_EXEC with one PT_NOTE segment holding `notes`.
std::string synthetic_elf(const std::string& notes, std::uint16_t machine = EM_X86_64) {
    Elf64_Ehdr header{};
    std::memcpy(header.e_ident, ELFMAG, SELFMAG);
    header.e_ident[EI_CLASS] = ELFCLASS64;
    header.e_ident[EI_DATA] = ELFDATA2LSB;
    header.e_ident[EI_VERSION] = EV_CURRENT;
    header.e_type = ET_EXEC;
    header.e_machine = machine;
    header.e_phoff = sizeof(Elf64_Ehdr);
    header.e_phentsize = sizeof(Elf64_Phdr);
    header.e_phnum = 1;
    Elf64_Phdr note{};
    note.p_type = PT_NOTE;
    note.p_offset = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
    note.p_filesz = notes.size();
    std::string elf(reinterpret_cast<const char*>(&header), sizeof header);
    elf.append(reinterpret_cast<const char*>(&note), sizeof note);
    elf += notes;
    return elf;
}

std::string pvh_notes() {
    std::string notes;
    append_note(notes, std::string_view("GNU\0", 4), 3, 20);
    append_note(notes, std::string_view("Xen\0", 4), 18, 4);
    return notes;
}

std::string xz_compress(const std::string& data) {
    std::string output(lzma_stream_buffer_bound(data.size()), '\0');
    std::size_t position = 0;
    EXPECT_EQ(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, nullptr, reinterpret_cast<const std::uint8_t*>(data.data()),
                                      data.size(), reinterpret_cast<std::uint8_t*>(output.data()), &position,
                                      output.size()),
              LZMA_OK);
    output.resize(position);
    return output;
}

// A bzImage with boot protocol 2.15, 4 setup sectors and `payload` as the payload,
// followed by the uncompressed size as the kernel build appends it (except for gzip).
std::string synthetic_bzimage(const std::string& payload, std::uint32_t uncompressed_size, bool append_size = true) {
    std::string image(5 * 512, '\0');
    image[0x1f1] = 4;
    image.replace(0x202, 4, "HdrS");
    image[0x206] = 0x0f;
    image[0x207] = 0x02;
    put32(image, 0x248, 0);
    put32(image, 0x24c, static_cast<std::uint32_t>(payload.size() + (append_size ? 4 : 0)));
    image += payload;
    if (!append_size) return image;
    std::string size(4, '\0');
    put32(size, 0, uncompressed_size);
    return image + size;
}

class TemporaryFolder {
public:
    TemporaryFolder() : folder_(fs::temp_directory_path(), "isolab-vmlinux-test-") {}
    fs::path operator/(const std::string& name) const { return folder_.path() / name; }

private:
    isolab::TemporaryDirectory folder_;
};

}  // namespace

TEST(GuestVmlinux, DetectsCompressionFromMagic) {
    EXPECT_EQ(detect_compression(bytes({0x1f, 0x8b, 0x08, 0})), Compression::gzip);
    EXPECT_EQ(detect_compression("BZh91AY"), Compression::bzip2);
    EXPECT_EQ(detect_compression(bytes({0x5d, 0, 0, 0x80, 0})), Compression::lzma);
    EXPECT_EQ(detect_compression(bytes({0xfd, '7', 'z', 'X', 'Z', 0})), Compression::xz);
    EXPECT_EQ(detect_compression(bytes({0x89, 'L', 'Z', 'O', 0})), Compression::lzo);
    EXPECT_EQ(detect_compression(bytes({0x02, 0x21, 0x4c, 0x18})), Compression::lz4);
    EXPECT_EQ(detect_compression(bytes({0x28, 0xb5, 0x2f, 0xfd})), Compression::zstd);
    EXPECT_EQ(detect_compression("\x7f" "ELF"), Compression::unknown);
    EXPECT_EQ(detect_compression(""), Compression::unknown);
}

TEST(GuestVmlinux, ParsesSetupHeader) {
    std::string image = synthetic_bzimage("payload", 7);
    SetupHeader header = parse_setup_header(image);
    EXPECT_EQ(header.version, 0x020f);
    EXPECT_EQ(header.setup_sects, 4);
    EXPECT_EQ(header.payload_file_offset(), 5u * 512);
    EXPECT_EQ(header.payload_length, 11u);
}

TEST(GuestVmlinux, RejectsImageWithoutMagic) {
    std::string image(4096, '\0');
    EXPECT_THROW(parse_setup_header(image), isolab::Error);
    image = synthetic_bzimage("x", 1);
    image[0x206] = 0x06;  // protocol 2.06: no payload fields
    EXPECT_THROW(parse_setup_header(image), isolab::Error);
}

TEST(GuestVmlinux, PvhNoteAccepted) {
    EXPECT_EQ(check_pvh_elf(synthetic_elf(pvh_notes())), "");
}

TEST(GuestVmlinux, MissingPvhNoteRejected) {
    std::string notes;
    append_note(notes, std::string_view("GNU\0", 4), 3, 20);
    append_note(notes, std::string_view("Xen\0", 4), 17, 4);  // another Xen note type
    std::string reason = check_pvh_elf(synthetic_elf(notes));
    EXPECT_NE(reason.find("no PVH entry note"), std::string::npos) << reason;
}

TEST(GuestVmlinux, NonX86ElfRejected) {
    std::string reason = check_pvh_elf(synthetic_elf(pvh_notes(), EM_AARCH64));
    EXPECT_NE(reason.find("x86-64"), std::string::npos) << reason;
    EXPECT_NE(check_pvh_elf("not an elf"), "");
}

TEST(GuestVmlinux, ExtractsXzPayload) {
    TemporaryFolder folder;
    std::string elf = synthetic_elf(pvh_notes());
    isolab::write_file_atomic(folder / "bzImage", synthetic_bzimage(xz_compress(elf), static_cast<std::uint32_t>(elf.size())));

    auto result = extract_vmlinux(folder / "bzImage", folder / "vmlinux");
    EXPECT_TRUE(result.extracted) << result.failure_reason;
    EXPECT_EQ(result.compression, "xz");
    EXPECT_EQ(isolab::read_file(folder / "vmlinux"), elf);
}

TEST(GuestVmlinux, CorruptXzFallsBackWithReason) {
    TemporaryFolder folder;
    std::string elf = synthetic_elf(pvh_notes());
    std::string payload = xz_compress(elf);
    for (std::size_t i = 24; i < payload.size() - 16; ++i) payload[i] = static_cast<char>(payload[i] ^ 0x5a);
    isolab::write_file_atomic(folder / "bzImage", synthetic_bzimage(payload, static_cast<std::uint32_t>(elf.size())));

    auto result = extract_vmlinux(folder / "bzImage", folder / "vmlinux");
    EXPECT_FALSE(result.extracted);
    EXPECT_EQ(result.compression, "xz");
    EXPECT_NE(result.failure_reason.find("xz data is corrupt"), std::string::npos) << result.failure_reason;
    EXPECT_FALSE(fs::exists(folder / "vmlinux"));
}

TEST(GuestVmlinux, PayloadWithoutPvhFallsBack) {
    TemporaryFolder folder;
    std::string elf = synthetic_elf("");
    isolab::write_file_atomic(folder / "bzImage", synthetic_bzimage(xz_compress(elf), static_cast<std::uint32_t>(elf.size())));

    auto result = extract_vmlinux(folder / "bzImage", folder / "vmlinux");
    EXPECT_FALSE(result.extracted);
    EXPECT_NE(result.failure_reason.find("PVH"), std::string::npos) << result.failure_reason;
}

TEST(GuestVmlinux, WrongAppendedSizeRejected) {
    std::string elf = synthetic_elf(pvh_notes());
    std::string payload = xz_compress(elf) + std::string("\x01\x00\x00\x00", 4);
    EXPECT_THROW(decompress_payload(payload, Compression::xz), isolab::Error);
}

TEST(GuestVmlinux, LzoReportsUnsupported) {
    try {
        decompress_payload(bytes({0x89, 'L', 'Z', 'O', 0, 0, 0, 0}), Compression::lzo);
        FAIL() << "lzo decompressed";
    } catch (const isolab::Error& error) {
        EXPECT_NE(std::string(error.what()).find("lzo"), std::string::npos);
    }
}

// Every compressor the kernel build supports for the payload, with its flags from
// scripts/Makefile.lib (lz4 -l writes the legacy frame the kernel uses).
TEST(GuestVmlinux, ExtractsEveryKernelCompression) {
    struct Case {
        Compression compression;
        std::vector<std::string> command;
    };
    const std::vector<Case> cases{
        {Compression::gzip, {"gzip", "-n", "-9", "-c"}},       {Compression::bzip2, {"bzip2", "-9", "-c"}},
        {Compression::lzma, {"xz", "--format=lzma", "-9", "-c"}}, {Compression::xz, {"xz", "--check=crc32", "-c"}},
        {Compression::lz4, {"lz4", "-l", "-9", "-c"}},         {Compression::zstd, {"zstd", "-19", "-c"}},
    };
    TemporaryFolder folder;
    std::string elf = synthetic_elf(pvh_notes()) + std::string(100000, 'k');
    isolab::write_file_atomic(folder / "vmlinux.bin", elf);

    for (const auto& test : cases) {
        if (!isolab::program_available(test.command[0])) {
            ADD_FAILURE() << test.command[0] << " is not installed";
            continue;
        }
        auto command = test.command;
        command.push_back((folder / "vmlinux.bin").string());
        auto compressed = isolab::run_command(command);
        ASSERT_EQ(compressed.exit_code, 0) << compressed.output;
        std::string payload = compressed.output;
        EXPECT_EQ(detect_compression(payload), test.compression) << compression_name(test.compression);
        bool append_size = test.compression != Compression::gzip;
        isolab::write_file_atomic(folder / "bzImage",
                                  synthetic_bzimage(payload, static_cast<std::uint32_t>(elf.size()), append_size));

        auto result = extract_vmlinux(folder / "bzImage", folder / "vmlinux");
        EXPECT_TRUE(result.extracted) << compression_name(test.compression) << ": " << result.failure_reason;
        EXPECT_EQ(result.compression, compression_name(test.compression));
        if (result.extracted) {
            EXPECT_EQ(isolab::read_file(folder / "vmlinux"), elf);
        }
        fs::remove(folder / "vmlinux");
    }
}
