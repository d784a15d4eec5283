// Parsing of -v and --mount values (Docker's syntax and CSV quoting), volume names, and
// the stored forms of mounts, requests and image Volumes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/container/mount_spec.hpp"
#include "runtime/container/run_options.hpp"
#include "runtime/core/error.hpp"
#include "runtime/image/manifest.hpp"
#include "runtime/volume/volume.hpp"

namespace isolab::container {
namespace {

TEST(VolumeOption, AnonymousVolume) {
    auto request = parse_volume_option("/data");

    EXPECT_EQ(request.type, MountType::volume);
    EXPECT_EQ(request.source, "");
    EXPECT_EQ(request.target, "/data");
    EXPECT_FALSE(request.read_only);
}

TEST(VolumeOption, NamedVolumeReadOnly) {
    auto request = parse_volume_option("app-data:/var/lib/app:ro");

    EXPECT_EQ(request.type, MountType::volume);
    EXPECT_EQ(request.source, "app-data");
    EXPECT_EQ(request.target, "/var/lib/app");
    EXPECT_TRUE(request.read_only);
}

TEST(VolumeOption, BindWithSpacesAndCommas) {
    auto request = parse_volume_option("/srv/a b,c:/in dir:rw,rslave");

    EXPECT_EQ(request.type, MountType::bind);
    EXPECT_EQ(request.source, "/srv/a b,c");
    EXPECT_EQ(request.target, "/in dir");
    EXPECT_TRUE(request.create_host_path);
    EXPECT_FALSE(request.read_only);
    EXPECT_EQ(request.propagation, "rslave");
}

TEST(VolumeOption, NoCopyOnVolume) {
    EXPECT_TRUE(parse_volume_option("data:/data:nocopy").no_copy);
}

TEST(VolumeOption, InvalidValuesRejected) {
    for (const char* value : {"relative:/data:bogus", "./dir:/data", "data:relative", "data:/", "a:/b:ro:x", ":/data",
                              "data:/data:ro,rw", "/host:/data:nocopy", "data:/data:rslave", "/host:/data:shared",
                              "data:/data:ro,ro", ""}) {
        EXPECT_THROW(parse_volume_option(value), Error) << value;
    }
}

TEST(MountOption, VolumeReadOnly) {
    auto request = parse_mount_option("type=volume,source=data,target=/data,readonly");

    EXPECT_EQ(request.type, MountType::volume);
    EXPECT_EQ(request.source, "data");
    EXPECT_EQ(request.target, "/data");
    EXPECT_TRUE(request.read_only);
    EXPECT_FALSE(request.create_host_path);
}

TEST(MountOption, DefaultsToAnonymousVolume) {
    auto request = parse_mount_option("target=/cache");

    EXPECT_EQ(request.type, MountType::volume);
    EXPECT_EQ(request.source, "");
}

TEST(MountOption, ReadOnlyValues) {
    EXPECT_TRUE(parse_mount_option("dst=/a,ro=true").read_only);
    EXPECT_TRUE(parse_mount_option("dst=/a,readonly=1").read_only);
    EXPECT_FALSE(parse_mount_option("dst=/a,readonly=false").read_only);
    EXPECT_THROW(parse_mount_option("dst=/a,readonly=maybe"), Error);
}

TEST(MountOption, QuotedFieldKeepsCommas) {
    auto request = parse_mount_option("type=bind,\"source=/srv/a,b c\",\"destination=/in,x\"");

    EXPECT_EQ(request.type, MountType::bind);
    EXPECT_EQ(request.source, "/srv/a,b c");
    EXPECT_EQ(request.target, "/in,x");
}

TEST(MountOption, DoubledQuoteIsOneQuote) {
    auto request = parse_mount_option("type=bind,\"src=/srv/say \"\"hi\"\"\",target=/in");

    EXPECT_EQ(request.source, "/srv/say \"hi\"");
}

TEST(MountOption, TmpfsSizeAndMode) {
    auto request = parse_mount_option("type=tmpfs,target=/run,tmpfs-size=1m,tmpfs-mode=1770");

    EXPECT_EQ(request.type, MountType::tmpfs);
    EXPECT_EQ(request.tmpfs_options, "size=1048576,mode=1770");
}

TEST(MountOption, VolumeLabels) {
    auto request = parse_mount_option("src=data,dst=/data,volume-label=a=1,volume-label=b");

    EXPECT_EQ(request.volume_labels.at("a"), "1");
    EXPECT_EQ(request.volume_labels.at("b"), "");
}

TEST(MountOption, InvalidValuesRejected) {
    for (const char* value : {"type=bind,target=/in", "type=bind,source=relative,target=/in", "type=tmpfs,source=x,target=/t",
                              "type=nfs,target=/n", "source=data", "target=relative", "target=/a,bogus=1",
                              "type=bind,source=/a,target=/b,volume-nocopy", "type=volume,target=/b,bind-propagation=rslave",
                              "type=volume,target=/b,tmpfs-size=1m", "type=bind,source=/a,target=/b,bind-propagation=shared",
                              "type=tmpfs,target=/t,tmpfs-mode=rwx", "target=/a,target=/b", "target=/a,volume-driver=nfs",
                              "source=\"data\",target=/a", "\"target=/a", "\"target=/a\"x", "type"}) {
        EXPECT_THROW(parse_mount_option(value), Error) << value;
    }
}

TEST(CsvRecord, FieldsAndEmptyFields) {
    EXPECT_EQ(split_csv_record("a,,b"), (std::vector<std::string>{"a", "", "b"}));
    EXPECT_EQ(split_csv_record("\"a,b\",c"), (std::vector<std::string>{"a,b", "c"}));
    EXPECT_EQ(split_csv_record("a b"), (std::vector<std::string>{"a b"}));
}

TEST(MountTargets, DuplicateRejected) {
    std::vector<MountRequest> requests{parse_volume_option("one:/data"), parse_mount_option("target=/data/")};

    EXPECT_THROW(check_distinct_targets(requests), Error);
}

TEST(MountTargets, NestedAccepted) {
    std::vector<MountRequest> requests{parse_volume_option("one:/data"), parse_volume_option("two:/data/sub")};

    EXPECT_NO_THROW(check_distinct_targets(requests));
}

TEST(VolumeName, DockerRule) {
    for (const char* name : {"ab", "app-data", "a.b_c-d", "0data"}) {
        EXPECT_NO_THROW(volume::validate_volume_name(name)) << name;
    }
    for (const char* name : {"a", "", "-data", ".data", "_data", "da/ta", "da ta", "da:ta", "dätä"}) {
        EXPECT_THROW(volume::validate_volume_name(name), Error) << name;
    }
}

TEST(VolumeName, LengthLimited) {
    EXPECT_NO_THROW(volume::validate_volume_name(std::string(255, 'a')));
    EXPECT_THROW(volume::validate_volume_name(std::string(256, 'a')), Error);
    try {
        volume::validate_volume_name(std::string(50000, 'a'));
        ADD_FAILURE() << "a name of 50,000 characters was accepted";
    } catch (const Error& error) {
        EXPECT_LT(std::string(error.what()).size(), 300u) << error.what();
    }
}

TEST(ContainerMountJson, RoundTrip) {
    ContainerMount mount;
    mount.type = MountType::bind;
    mount.source = "/srv/a b";
    mount.destination = "/in";
    mount.read_only = true;
    mount.propagation = "rslave";

    auto json = nlohmann::json(mount);
    auto back = json.get<ContainerMount>();

    EXPECT_EQ(json["Type"], "bind");
    EXPECT_EQ(json["RW"], false);
    EXPECT_EQ(back.type, MountType::bind);
    EXPECT_EQ(back.source, mount.source);
    EXPECT_EQ(back.destination, "/in");
    EXPECT_TRUE(back.read_only);
    EXPECT_EQ(back.propagation, "rslave");
}

TEST(RunOptionsJson, VolumesAndMountsStored) {
    RunOptions options;
    options.volumes = {"data:/data:ro"};
    options.mounts = {"type=tmpfs,target=/t"};

    auto back = nlohmann::json(options).get<RunOptions>();

    EXPECT_EQ(back.volumes, options.volumes);
    EXPECT_EQ(back.mounts, options.mounts);
}

TEST(ImageConfigJson, VolumesRoundTrip) {
    image::RunConfig config;
    config.volumes = {"/data", "/var/log"};

    auto json = image::run_config_to_json(config);
    auto back = image::run_config_from_json(json);

    EXPECT_TRUE(json["Volumes"]["/data"].is_object());
    EXPECT_EQ(back.volumes, config.volumes);
}

}  // namespace
}  // namespace isolab::container
