// The plan of `vm boot-profile`: which steps run, what each switches on, and the QEMU
// command line of each step.
#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/core/error.hpp"
#include "vmdriver/boot_plan.hpp"
#include "vmdriver/guest/cmdline.hpp"

using namespace isolab::vm;

namespace {

ProfileFiles sample_files() {
    return {"/cache/vmlinuz", "/cache/vmlinux", "/run/initramfs.cpio.gz", "/run/initramfs.cpio"};
}

BootVariant variant_named(const std::string& name) {
    for (const auto& variant : boot_profile_variants()) {
        if (variant.name == name) return variant;
    }
    throw std::runtime_error("no variant " + name);
}

bool contains(const std::vector<std::string>& arguments, const std::string& value) {
    return std::find(arguments.begin(), arguments.end(), value) != arguments.end();
}

// The value after `option`, or empty when the option is missing.
std::string value_of(const std::vector<std::string>& arguments, const std::string& option) {
    auto found = std::find(arguments.begin(), arguments.end(), option);
    if (found == arguments.end() || found + 1 == arguments.end()) return {};
    return *(found + 1);
}

int optimisation_count(const BootVariant& variant) {
    return int(variant.pvh_vmlinux) + int(variant.uncompressed_initramfs) + int(variant.trimmed_devices) +
           int(variant.trimmed_cmdline) + int(variant.small_page_ram);
}

}  // namespace

TEST(BootPlan, StepsInOrder) {
    std::vector<std::string> names;
    for (const auto& variant : boot_profile_variants()) names.push_back(variant.name);
    EXPECT_EQ(names, (std::vector<std::string>{"default", "pvh-vmlinux", "uncompressed-initramfs", "trimmed-devices",
                                               "trimmed-cmdline", "small-pages", "libvirt", "libvirt-embedded"}));
    EXPECT_EQ(boot_profile_variants()[5].name, kTunedQemuStep);
}

TEST(BootPlan, EachQemuStepAddsOneOptimisation) {
    auto variants = boot_profile_variants();
    EXPECT_EQ(optimisation_count(variants.front()), 0);
    for (size_t i = 1; i < variants.size() && variants[i].path == BootPath::qemu; ++i) {
        EXPECT_EQ(optimisation_count(variants[i]), optimisation_count(variants[i - 1]) + 1) << variants[i].name;
    }
}

TEST(BootPlan, LibvirtStepHasEveryOptimisation) {
    auto libvirt = variant_named("libvirt");
    auto tuned = variant_named(kTunedQemuStep);
    EXPECT_EQ(libvirt.path, BootPath::libvirt);
    EXPECT_EQ(optimisation_count(libvirt), 5);
    EXPECT_EQ(optimisation_count(tuned), 5);
    EXPECT_EQ(variant_cmdline(libvirt, true), variant_cmdline(tuned, true));
}

TEST(BootPlan, EmbeddedStepDiffersOnlyInDriver) {
    auto embedded = variant_named("libvirt-embedded");
    auto libvirt = variant_named("libvirt");
    EXPECT_EQ(embedded.path, BootPath::libvirt);
    EXPECT_TRUE(embedded.embedded_driver);
    EXPECT_FALSE(libvirt.embedded_driver);
    EXPECT_EQ(optimisation_count(embedded), optimisation_count(libvirt));
}

TEST(BootPlan, TunedCmdlineIsWhatVmRunBoots) {
    EXPECT_EQ(variant_cmdline(variant_named("trimmed-cmdline"), false), guest::kernel_cmdline({}));
    EXPECT_EQ(variant_cmdline(variant_named("trimmed-cmdline"), true), guest::kernel_cmdline({.tcg = true}));
}

TEST(BootPlan, DefaultStepUsesQemuDefaults) {
    auto arguments = qemu_boot_arguments(variant_named("default"), sample_files(), {});
    EXPECT_EQ(value_of(arguments, "-kernel"), "/cache/vmlinuz");
    EXPECT_EQ(value_of(arguments, "-initrd"), "/run/initramfs.cpio.gz");
    EXPECT_EQ(value_of(arguments, "-append"), "console=ttyS0 panic=-1 rdinit=/init");
    EXPECT_FALSE(contains(arguments, "-nodefaults"));
    EXPECT_EQ(value_of(arguments, "-machine"), "pc,accel=tcg");
    EXPECT_EQ(value_of(arguments, "-m"), "256");
    EXPECT_EQ(value_of(arguments, "-serial"), "stdio");
}

TEST(BootPlan, PvhStepBootsVmlinux) {
    auto arguments = qemu_boot_arguments(variant_named("pvh-vmlinux"), sample_files(), {});
    EXPECT_EQ(value_of(arguments, "-kernel"), "/cache/vmlinux");
    EXPECT_EQ(value_of(arguments, "-initrd"), "/run/initramfs.cpio.gz");
}

TEST(BootPlan, PvhStepFallsBackToBzImage) {
    auto files = sample_files();
    files.vmlinux.clear();
    EXPECT_EQ(variant_kernel(variant_named("pvh-vmlinux"), files), "/cache/vmlinuz");
}

TEST(BootPlan, UncompressedStepBootsPlainCpio) {
    auto arguments = qemu_boot_arguments(variant_named("uncompressed-initramfs"), sample_files(), {});
    EXPECT_EQ(value_of(arguments, "-initrd"), "/run/initramfs.cpio");
    EXPECT_FALSE(contains(arguments, "-nodefaults"));
}

TEST(BootPlan, TrimmedDevicesStepDropsDefaults) {
    auto arguments = qemu_boot_arguments(variant_named("trimmed-devices"), sample_files(), {});
    EXPECT_TRUE(contains(arguments, "-nodefaults"));
    EXPECT_TRUE(contains(arguments, "-no-user-config"));
    EXPECT_EQ(value_of(arguments, "-append"), "console=ttyS0 panic=-1 rdinit=/init");
}

TEST(BootPlan, TrimmedCmdlineStepIsQuiet) {
    auto arguments = qemu_boot_arguments(variant_named("trimmed-cmdline"), sample_files(), {});
    auto cmdline = value_of(arguments, "-append");
    EXPECT_NE(cmdline.find(" quiet "), std::string::npos) << cmdline;
    EXPECT_NE(cmdline.find("i8042.noaux"), std::string::npos) << cmdline;
}

TEST(BootPlan, TrimmedCmdlineSkipsApicTimerOnlyUnderTcg) {
    auto tcg = value_of(qemu_boot_arguments(variant_named("trimmed-cmdline"), sample_files(), {.accelerator = "tcg"}),
                        "-append");
    auto kvm = value_of(qemu_boot_arguments(variant_named("trimmed-cmdline"), sample_files(), {.accelerator = "kvm"}),
                        "-append");
    auto plain = value_of(qemu_boot_arguments(variant_named("default"), sample_files(), {.accelerator = "tcg"}),
                          "-append");
    EXPECT_NE(tcg.find("noapictimer"), std::string::npos) << tcg;
    EXPECT_EQ(kvm.find("noapictimer"), std::string::npos) << kvm;
    EXPECT_EQ(plain.find("noapictimer"), std::string::npos) << plain;
}

TEST(BootPlan, SmallPagesStepUsesMemfd) {
    auto tcg = qemu_boot_arguments(variant_named("small-pages"), sample_files(), {.accelerator = "tcg", .memory_mib = 512});
    EXPECT_EQ(value_of(tcg, "-machine"), "pc,accel=tcg,memory-backend=pc.ram");
    EXPECT_EQ(value_of(tcg, "-object"), "memory-backend-memfd,id=pc.ram,size=512M,share=on");
    EXPECT_EQ(value_of(tcg, "-m"), "512");

    // The step before it, and every step under KVM, keep QEMU's anonymous RAM.
    auto before = qemu_boot_arguments(variant_named("trimmed-cmdline"), sample_files(), {.accelerator = "tcg"});
    EXPECT_EQ(value_of(before, "-machine"), "pc,accel=tcg");
    EXPECT_FALSE(contains(before, "-object"));
    auto kvm = qemu_boot_arguments(variant_named("small-pages"), sample_files(), {.accelerator = "kvm"});
    EXPECT_EQ(value_of(kvm, "-machine"), "pc,accel=kvm");
    EXPECT_FALSE(contains(kvm, "-object"));
}

TEST(BootPlan, DiskFormAttachesOverlayOnVirtioBlk) {
    auto initramfs_form = qemu_boot_arguments(variant_named("small-pages"), sample_files(), {});
    EXPECT_FALSE(contains(initramfs_form, "-blockdev"));
    EXPECT_FALSE(contains(initramfs_form, "-device"));

    auto files = sample_files();
    files.disk = "/state/a dir, with comma/disk.qcow2";
    auto arguments = qemu_boot_arguments(variant_named("small-pages"), files, {});
    // JSON keeps the comma as it is, where -drive would need it doubled.
    EXPECT_EQ(value_of(arguments, "-blockdev"),
              R"({"driver":"qcow2","file":{"driver":"file","filename":"/state/a dir, with comma/disk.qcow2"},)"
              R"("node-name":"vda"})");
    EXPECT_EQ(value_of(arguments, "-device"), "virtio-blk-pci,drive=vda");
    EXPECT_EQ(value_of(arguments, "-initrd"), "/run/initramfs.cpio");
    EXPECT_EQ(value_of(arguments, "-append"), value_of(initramfs_form, "-append"));
}

TEST(BootPlan, KvmUsesHostCpu) {
    auto arguments = qemu_boot_arguments(variant_named("default"), sample_files(), {.accelerator = "kvm"});
    EXPECT_EQ(value_of(arguments, "-machine"), "pc,accel=kvm");
    EXPECT_EQ(value_of(arguments, "-cpu"), "host");
}

TEST(BootPlan, TcgKeepsDefaultCpu) {
    auto arguments = qemu_boot_arguments(variant_named("default"), sample_files(), {.accelerator = "tcg"});
    EXPECT_FALSE(contains(arguments, "-cpu"));
}

TEST(BootPlan, MachineSizeIsPassed) {
    auto arguments = qemu_boot_arguments(variant_named("default"), sample_files(), {"tcg", 512, 2});
    EXPECT_EQ(value_of(arguments, "-m"), "512");
    EXPECT_EQ(value_of(arguments, "-smp"), "2");
}

TEST(BootPlan, SelectKeepsPlanOrder) {
    auto selected = select_variants({"libvirt", "default"});
    ASSERT_EQ(selected.size(), 2u);
    EXPECT_EQ(selected[0].name, "default");
    EXPECT_EQ(selected[1].name, "libvirt");
}

TEST(BootPlan, SelectNothingMeansAllButEmbedded) {
    auto selected = select_variants({});
    EXPECT_EQ(selected.size(), boot_profile_variants().size() - 1);
    EXPECT_EQ(selected.back().name, "libvirt");
}

TEST(BootPlan, SelectBothLibvirtStepsThrows) {
    EXPECT_THROW(select_variants({"libvirt", "libvirt-embedded"}), isolab::Error);
    EXPECT_EQ(select_variants({"default", "libvirt-embedded"}).back().name, "libvirt-embedded");
}

TEST(BootPlan, SelectUnknownStepThrows) {
    try {
        select_variants({"default", "turbo"});
        FAIL() << "expected an error";
    } catch (const isolab::Error& error) {
        EXPECT_NE(std::string(error.what()).find("'turbo'"), std::string::npos) << error.what();
        EXPECT_NE(error.hint().find("pvh-vmlinux"), std::string::npos) << error.hint();
    }
}
