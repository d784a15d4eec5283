// Domain XML, checked by libvirt itself through its test:///default driver (no libvirtd).
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <string>

#include "runtime/core/error.hpp"
#include "vmdriver/libvirt/connection.hpp"
#include "vmdriver/libvirt/domain.hpp"
#include "vmdriver/libvirt/domain_xml.hpp"

namespace isolab::vm::libvirt {
namespace {

constexpr const char* kAwkwardKernel = "/var/cache/isolab test, a&b <c> 'd' \"e\"/vmlinuz";
constexpr const char* kAwkwardInitrd = "/var/lib/isolab root,with comma/vms/run 1/initramfs.cpio";

DomainSpec awkward_spec(std::uint64_t memory_bytes) {
    DomainSpec spec;
    spec.name = make_domain_name("");
    spec.memory_mib = memory_bytes >> 20;
    spec.kernel = kAwkwardKernel;
    spec.initrd = kAwkwardInitrd;
    spec.cmdline = "console=ttyS0 quiet panic=-1";
    return spec;
}

// Defines the XML on the test driver and returns libvirt's own rendering of it.
std::string define_and_read_back(const std::string& xml) {
    Connection connection("test:///default");
    virDomainPtr domain = virDomainDefineXML(connection.get(), xml.c_str());
    if (domain == nullptr) {
        virErrorPtr error = virGetLastError();
        ADD_FAILURE() << "virDomainDefineXML rejected the XML: " << (error ? error->message : "?") << "\n" << xml;
        return {};
    }
    char* description = virDomainGetXMLDesc(domain, 0);
    std::string text = description ? description : "";
    free(description);
    virDomainUndefine(domain);
    virDomainFree(domain);
    return text;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(DomainXml, PathsSurviveLibvirt) {
    std::string read_back = define_and_read_back(build_domain_xml(awkward_spec(256ULL << 20)));
    EXPECT_TRUE(contains(read_back, "<kernel>" + xml_escape(kAwkwardKernel) + "</kernel>")) << read_back;
    EXPECT_TRUE(contains(read_back, "<initrd>" + xml_escape(kAwkwardInitrd) + "</initrd>")) << read_back;
    EXPECT_TRUE(contains(read_back, "<cmdline>console=ttyS0 quiet panic=-1</cmdline>")) << read_back;
}

TEST(DomainXml, OwnerRootSurvivesLibvirt) {
    DomainSpec spec = awkward_spec(256ULL << 20);
    spec.owner_root = kAwkwardInitrd;
    std::string read_back = define_and_read_back(build_domain_xml(spec));
    EXPECT_EQ(owner_root_of(read_back), kAwkwardInitrd) << read_back;

    DomainSpec unowned = awkward_spec(256ULL << 20);
    EXPECT_EQ(owner_root_of(define_and_read_back(build_domain_xml(unowned))), "");
}

// libvirt writes non-ASCII letters as character references, and a raw tab or line end in
// an attribute would come back as a space.
TEST(DomainXml, OwnerRootWithTabsAndLettersSurvives) {
    DomainSpec spec = awkward_spec(256ULL << 20);
    spec.owner_root = "/tmp/state\troot\nline, \xc3\xbc\xe2\x82\xac \xf0\x9d\x84\x9e &#x41; &amp";
    std::string read_back = define_and_read_back(build_domain_xml(spec));
    EXPECT_EQ(owner_root_of(read_back), spec.owner_root.string()) << read_back;
}

TEST(DomainXml, MemorySixteenGibBothSpellings) {
    for (const char* text : {"16384M", "16G"}) {
        std::uint64_t bytes = parse_memory_size(text);
        EXPECT_EQ(bytes, 17179869184ULL) << text;
        std::string xml = build_domain_xml(awkward_spec(bytes));
        EXPECT_TRUE(contains(xml, "<memory unit='MiB'>16384</memory>")) << xml;

        std::string read_back = define_and_read_back(xml);
        // libvirt stores memory in KiB: 16384 MiB = 16777216 KiB.
        EXPECT_TRUE(contains(read_back, "<memory unit='KiB'>16777216</memory>")) << text << "\n" << read_back;
    }
}

TEST(DomainXml, NoUnneededDevices) {
    std::string read_back = define_and_read_back(build_domain_xml(awkward_spec(256ULL << 20)));
    EXPECT_FALSE(contains(read_back, "model='piix3-uhci'")) << read_back;
    EXPECT_FALSE(contains(read_back, "<controller type='usb' index='0'>")) << read_back;
    EXPECT_TRUE(contains(read_back, "<controller type='usb' index='0' model='none'")) << read_back;
    EXPECT_FALSE(contains(read_back, "<input type='tablet'")) << read_back;
    EXPECT_FALSE(contains(read_back, "bus='usb'")) << read_back;
    EXPECT_FALSE(contains(read_back, "<video")) << read_back;
    EXPECT_FALSE(contains(read_back, "<graphics")) << read_back;
    EXPECT_FALSE(contains(read_back, "<interface")) << read_back;
    EXPECT_FALSE(contains(read_back, "<disk")) << read_back;
    EXPECT_FALSE(contains(read_back, "<filesystem")) << read_back;
    EXPECT_FALSE(contains(read_back, "<sound")) << read_back;
    EXPECT_TRUE(contains(read_back, "<memballoon model='none'/>")) << read_back;
    EXPECT_TRUE(contains(read_back, "<serial type='pty'>")) << read_back;
}

TEST(DomainXml, SmallPageRamIsSharedMemfd) {
    DomainSpec spec = awkward_spec(256ULL << 20);
    EXPECT_FALSE(contains(define_and_read_back(build_domain_xml(spec)), "<memoryBacking>"));
    spec.small_page_ram = true;
    std::string read_back = define_and_read_back(build_domain_xml(spec));
    EXPECT_TRUE(contains(read_back, "<source type='memfd'/>")) << read_back;
    EXPECT_TRUE(contains(read_back, "<access mode='shared'/>")) << read_back;
    EXPECT_FALSE(contains(read_back, "<hugepages")) << read_back;
}

TEST(DomainXml, SmallPageRamOnlyUnderTcg) {
    EXPECT_TRUE(uses_small_page_ram("tcg"));
    EXPECT_FALSE(uses_small_page_ram("kvm"));
}

TEST(DomainXml, LifecycleAndAcpi) {
    std::string read_back = define_and_read_back(build_domain_xml(awkward_spec(256ULL << 20)));
    EXPECT_TRUE(contains(read_back, "<on_poweroff>destroy</on_poweroff>")) << read_back;
    EXPECT_TRUE(contains(read_back, "<on_reboot>destroy</on_reboot>")) << read_back;
    EXPECT_TRUE(contains(read_back, "<on_crash>destroy</on_crash>")) << read_back;
    EXPECT_TRUE(contains(read_back, "<acpi/>")) << read_back;
}

TEST(DomainXml, DiskAndNetworkWhenAsked) {
    DomainSpec spec = awkward_spec(256ULL << 20);
    spec.disk = "/var/lib/isolab a,b/vms/x/disk.qcow2";
    spec.network = "default";
    spec.memory_statistics = true;
    std::string xml = build_domain_xml(spec);
    EXPECT_TRUE(contains(xml, "<driver name='qemu' type='qcow2'")) << xml;
    EXPECT_TRUE(contains(xml, "<source file='/var/lib/isolab a,b/vms/x/disk.qcow2'/>")) << xml;
    EXPECT_TRUE(contains(xml, "<target dev='vda' bus='virtio'/>")) << xml;
    EXPECT_TRUE(contains(xml, "<rom enabled='no'/>")) << xml;
    EXPECT_TRUE(contains(xml, "<memballoon model='virtio'>")) << xml;
}

constexpr const char* kAwkwardFolder = "/srv/shared, a&b <c> 'd' \"e\"";

TEST(DomainXml, BridgeInterfaceWithTapName) {
    DomainSpec spec = awkward_spec(256ULL << 20);
    spec.bridge = "isolab0";
    spec.tap_device = "isolabt0123abcd";
    std::string read_back = define_and_read_back(build_domain_xml(spec));
    EXPECT_TRUE(contains(read_back, "<interface type='bridge'>")) << read_back;
    EXPECT_TRUE(contains(read_back, "<source bridge='isolab0'/>")) << read_back;
    EXPECT_TRUE(contains(read_back, "<target dev='isolabt0123abcd'/>")) << read_back;
    EXPECT_TRUE(contains(read_back, "<model type='virtio'/>")) << read_back;
    EXPECT_TRUE(contains(read_back, "<rom enabled='no'/>")) << read_back;
}

TEST(DomainXml, SharedFolderPathSurvivesLibvirt) {
    DomainSpec spec = awkward_spec(256ULL << 20);
    spec.shared_folders.push_back({kAwkwardFolder, "isolab0", false});
    std::string read_back = define_and_read_back(build_domain_xml(spec));
    EXPECT_TRUE(contains(read_back, "<filesystem type='mount' accessmode='squash'>")) << read_back;
    EXPECT_TRUE(contains(read_back, "<source dir='" + xml_escape(kAwkwardFolder) + "'/>")) << read_back;
    EXPECT_TRUE(contains(read_back, "<target dir='isolab0'/>")) << read_back;
    EXPECT_FALSE(contains(read_back, "<readonly/>")) << read_back;
}

TEST(DomainXml, ReadOnlySharedFolder) {
    DomainSpec spec = awkward_spec(256ULL << 20);
    spec.shared_folders.push_back({"/srv/rw", "isolab0", false});
    spec.shared_folders.push_back({"/srv/ro", "isolab1", true});
    std::string read_back = define_and_read_back(build_domain_xml(spec));
    auto read_only = read_back.find("<source dir='/srv/ro'/>");
    ASSERT_NE(read_only, std::string::npos) << read_back;
    auto end = read_back.find("</filesystem>", read_only);
    EXPECT_TRUE(contains(read_back.substr(read_only, end - read_only), "<readonly/>")) << read_back;
    auto writable = read_back.find("<source dir='/srv/rw'/>");
    ASSERT_NE(writable, std::string::npos) << read_back;
    end = read_back.find("</filesystem>", writable);
    EXPECT_FALSE(contains(read_back.substr(writable, end - writable), "<readonly/>")) << read_back;
}

TEST(DomainXml, KvmUsesHostCpu) {
    DomainSpec spec = awkward_spec(256ULL << 20);
    spec.domain_type = "kvm";
    std::string xml = build_domain_xml(spec);
    EXPECT_TRUE(contains(xml, "<domain type='kvm'>")) << xml;
    EXPECT_TRUE(contains(xml, "<cpu mode='host-passthrough'/>")) << xml;
    spec.domain_type = "qemu";
    EXPECT_FALSE(contains(build_domain_xml(spec), "host-passthrough"));
}

TEST(DomainXml, RejectsControlCharacters) {
    DomainSpec spec = awkward_spec(256ULL << 20);
    spec.kernel = std::string("/tmp/a\x01" "b");
    EXPECT_THROW(build_domain_xml(spec), Error);
}

TEST(MemorySize, AcceptedInputs) {
    struct Case {
        const char* text;
        std::uint64_t bytes;
    };
    for (const auto& [text, bytes] : {Case{"128M", 128ULL << 20}, Case{"256M", 256ULL << 20}, Case{"256m", 256ULL << 20},
                                      Case{"1G", 1ULL << 30}, Case{"16G", 17179869184ULL},
                                      Case{"16384M", 17179869184ULL}, Case{"131072K", 128ULL << 20},
                                      Case{"134217728", 128ULL << 20}}) {
        EXPECT_EQ(parse_memory_size(text), bytes) << text;
    }
}

// Measured: a 103 MiB initramfs failed in 352M and booted in 384M; 200 MiB of files
// failed in 576M and booted in 704M.
TEST(MemorySize, InitramfsAdvice) {
    EXPECT_EQ(initramfs_memory_advice_mib(103ULL << 20), 384u);
    EXPECT_EQ(initramfs_memory_advice_mib(200ULL << 20), 704u);
    EXPECT_EQ(initramfs_memory_advice_mib(64ULL << 20), 256u);
}

TEST(MemorySize, RejectedInputs) {
    for (const char* text : {"", "abc", "-256M", "1.5G", "64M", "127M", "0", "32M", "1000K", "134217729", "12X",
                             "99999999999G"}) {
        EXPECT_THROW(parse_memory_size(text), Error) << text;
    }
}

TEST(MemorySize, MessagesNameTheValue) {
    try {
        parse_memory_size("1000K");
        FAIL() << "1000K was accepted";
    } catch (const Error& error) {
        EXPECT_TRUE(contains(error.what(), "1000K")) << error.what();
        EXPECT_TRUE(contains(error.what(), "whole number of MiB")) << error.what();
    }
    try {
        parse_memory_size("32M");
        FAIL() << "32M was accepted";
    } catch (const Error& error) {
        EXPECT_TRUE(contains(error.what(), "minimum of 128 MiB")) << error.what();
        EXPECT_EQ(error.hint(), "give at least 128M");
    }
}

TEST(DomainName, PrefixAndValidation) {
    std::string generated = make_domain_name("");
    EXPECT_EQ(generated.size(), std::string("isolab-").size() + 12);
    EXPECT_TRUE(generated.starts_with("isolab-"));
    EXPECT_EQ(generated.find_first_not_of("0123456789abcdef", 7), std::string::npos) << generated;
    EXPECT_NE(make_domain_name(""), generated);

    EXPECT_EQ(make_domain_name("web"), "isolab-web");
    EXPECT_EQ(make_domain_name("isolab-web"), "isolab-web");
    EXPECT_THROW(make_domain_name("a b"), Error);
    EXPECT_THROW(make_domain_name("a/b"), Error);
    EXPECT_THROW(make_domain_name(std::string(80, 'a')), Error);
}

TEST(XmlEscape, AllSpecialCharacters) {
    EXPECT_EQ(xml_escape("a&b<c>d'e\"f, g"), "a&amp;b&lt;c&gt;d&apos;e&quot;f, g");
    EXPECT_EQ(xml_escape("a\tb\nc\rd"), "a&#9;b&#10;c&#13;d");
}

TEST(Connection, UriResolution) {
    unsetenv("ISOLAB_LIBVIRT_URI");
    EXPECT_EQ(resolve_uri(""), "qemu:///system");
    EXPECT_EQ(resolve_uri("test:///default"), "test:///default");
    setenv("ISOLAB_LIBVIRT_URI", "qemu:///session", 1);
    EXPECT_EQ(resolve_uri(""), "qemu:///session");
    EXPECT_EQ(resolve_uri("test:///default"), "test:///default");
    unsetenv("ISOLAB_LIBVIRT_URI");
}

TEST(Connection, UnreachableSocketHasHint) {
    ::testing::internal::CaptureStderr();
    try {
        Connection connection("qemu:///system?socket=/nonexistent/isolab-test.sock");
        ADD_FAILURE() << "connected to a socket that does not exist";
    } catch (const Error& error) {
        EXPECT_TRUE(contains(error.hint(), "libvirtd is not running or not reachable")) << error.one_line();
        EXPECT_TRUE(contains(error.hint(), "scripts/start-libvirtd")) << error.one_line();
    }
    std::string printed = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(printed, "") << "libvirt printed its own error message";
}

TEST(Connection, MissingVirtlogdNamedInHint) {
    std::string message = "Failed to connect socket to '/run/libvirt/virtlogd-sock': Connection refused";
    virError error{};
    error.code = VIR_ERR_SYSTEM_ERROR;
    error.domain = VIR_FROM_RPC;
    error.message = message.data();
    for (const std::string uri : {"qemu:///embed?root=/var/lib/isolab/libvirt-embedded", "qemu:///system"}) {
        std::string hint = connection_hint(error, uri);
        EXPECT_TRUE(contains(hint, "virtlogd is not running")) << uri << ": " << hint;
        EXPECT_TRUE(contains(hint, "virtlogd -d")) << uri << ": " << hint;
        EXPECT_FALSE(contains(hint, "libvirtd is not running")) << uri << ": " << hint;
    }
}

TEST(Connection, HintFitsTheUri) {
    auto hint_of = [](const std::string& uri) {
        try {
            Connection connection(uri);
        } catch (const Error& error) {
            return error.hint();
        }
        ADD_FAILURE() << "connected to " << uri;
        return std::string();
    };
    EXPECT_TRUE(contains(hint_of("bogus://x"), "a QEMU driver URI such as qemu:///system"));
    auto remote = hint_of("qemu+tcp://127.0.0.1:1/system");
    EXPECT_TRUE(contains(remote, "libvirtd runs on that host")) << remote;
    EXPECT_FALSE(contains(remote, "scripts/start-libvirtd")) << remote;
}

// The embedded driver's console is read from the pty that the live XML names.
TEST(SerialPtyPath, ReadsLiveSerialSource) {
    std::string xml =
        "<domain><devices><console type='pty' tty='/dev/pts/9'><source path='/dev/pts/9'/></console>"
        "<serial type='pty'>\n  <source path='/dev/pts/4'/>\n  <target port='0'/>\n</serial></devices></domain>";
    EXPECT_EQ(serial_pty_path(xml), "/dev/pts/4");
}

TEST(SerialPtyPath, EmptyWithoutPtySource) {
    EXPECT_EQ(serial_pty_path("<domain><devices><serial type='pty'><target port='0'/></serial>"
                              "<disk><source path='/x'/></disk></devices></domain>"),
              "");
    EXPECT_EQ(serial_pty_path("<domain><devices><serial type='file'><source path='/x'/></serial></devices></domain>"),
              "");
}

}  // namespace
}  // namespace isolab::vm::libvirt
