#include "runtime/container/system_df.hpp"

#include <map>
#include <set>

#include <fmt/format.h>

#include "runtime/container/manage.hpp"
#include "runtime/container/record.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/files.hpp"
#include "runtime/image/listing.hpp"
#include "runtime/image/reference.hpp"
#include "runtime/volume/volume.hpp"

namespace isolab::container {

namespace {

std::string size_with_share(std::uint64_t part, std::uint64_t whole) {
    auto percent = whole == 0 ? 0 : static_cast<int>(part * 100 / whole);
    return fmt::format("{} ({}%)", human_size(part), percent);
}

// Per distinct image id: the digests of its layers.
using LayerSets = std::map<std::string, std::set<std::string>>;

// Bytes of each layer, counted once however many images use it.
std::map<std::string, std::uint64_t> layer_sizes(image::Store& store, const std::vector<image::Image>& images,
                                                 LayerSets& layers_of_image) {
    std::map<std::string, std::uint64_t> sizes;
    for (const auto& image : images) {
        for (const auto& layer : image.layers) {
            layers_of_image[image.config_digest].insert(layer.digest);
            if (!sizes.count(layer.digest)) sizes[layer.digest] = disk_usage(store.layer_folder(layer));
        }
    }
    return sizes;
}

std::string summary(const SpaceReport& report) {
    std::set<std::string> image_ids;
    std::set<std::string> active_images;
    for (const auto& image : report.images) {
        image_ids.insert(image.id);
        if (image.containers > 0) active_images.insert(image.id);
    }

    int running = 0;
    std::uint64_t containers_total = 0;
    std::uint64_t containers_reclaimable = 0;
    for (const auto& container : report.containers) {
        containers_total += container.size;
        if (container.running) ++running;
        else containers_reclaimable += container.size;
    }

    int volumes_active = 0;
    std::uint64_t volumes_total = 0;
    std::uint64_t volumes_reclaimable = 0;
    for (const auto& volume : report.volumes) {
        volumes_total += volume.size;
        if (volume.links > 0) ++volumes_active;
        else volumes_reclaimable += volume.size;
    }

    return image::format_table({
        {"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"},
        {"Images", std::to_string(image_ids.size()), std::to_string(active_images.size()), human_size(report.images_size),
         size_with_share(report.images_reclaimable, report.images_size)},
        {"Containers", std::to_string(report.containers.size()), std::to_string(running), human_size(containers_total),
         size_with_share(containers_reclaimable, containers_total)},
        {"Local Volumes", std::to_string(report.volumes.size()), std::to_string(volumes_active), human_size(volumes_total),
         size_with_share(volumes_reclaimable, volumes_total)},
    });
}

std::string verbose_tables(const SpaceReport& report) {
    std::vector<std::vector<std::string>> images{
        {"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"}};
    for (const auto& image : report.images) {
        auto short_id = image.id.substr(image.id.find(':') + 1, 12);
        images.push_back({image.repository, image.tag, short_id, image::age_of(image.created), human_size(image.size),
                          human_size(image.shared_size), human_size(image.size - image.shared_size),
                          std::to_string(image.containers)});
    }
    std::vector<std::vector<std::string>> containers{
        {"CONTAINER ID", "IMAGE", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"}};
    for (const auto& container : report.containers) {
        containers.push_back({container.id.substr(0, 12), container.image, std::to_string(container.local_volumes),
                              human_size(container.size), image::age_of(container.created), container.status,
                              container.name});
    }
    std::vector<std::vector<std::string>> volumes{{"VOLUME NAME", "LINKS", "SIZE"}};
    for (const auto& volume : report.volumes) {
        volumes.push_back({volume.name, std::to_string(volume.links), human_size(volume.size)});
    }
    return "Images space usage:\n\n" + image::format_table(images) + "\nContainers space usage:\n\n" +
           image::format_table(containers) + "\nLocal Volumes space usage:\n\n" + image::format_table(volumes);
}

}  // namespace

SpaceReport measure_disk_space(image::Store& store) {
    SpaceReport report;
    auto images = store.list();
    for (const auto& image : images) store.lowerdirs(image);
    LayerSets layers_of_image;
    auto sizes = layer_sizes(store, images, layers_of_image);
    auto stored = list_containers(store.paths());

    std::map<std::string, int> volume_links;
    for (const auto& container : stored) {
        ContainerSpace space;
        space.id = container.config.id;
        space.image = container.config.image;
        space.name = container.config.name;
        space.created = container.config.created;
        space.running = is_running(container);
        space.status = status_text(container, std::chrono::system_clock::now());
        space.size = disk_usage(container.paths.upperdir());
        for (const auto& mount : container.config.mounts) {
            if (mount.type != MountType::volume) continue;
            ++space.local_volumes;
            ++volume_links[mount.name];
        }
        report.containers.push_back(std::move(space));
    }

    for (const auto& image : images) {
        ImageSpace space;
        auto reference = image::parse_reference(image.reference);
        space.repository = reference.name;
        space.tag = reference.tag;
        space.id = image.config_digest;
        space.created = image.created;
        for (const auto& digest : layers_of_image[image.config_digest]) {
            space.size += sizes[digest];
            bool shared = false;
            for (const auto& [other, layers] : layers_of_image) {
                shared = shared || (other != image.config_digest && layers.count(digest));
            }
            if (shared) space.shared_size += sizes[digest];
        }
        for (const auto& container : stored) space.containers += container.config.image_id == image.config_digest;
        report.images.push_back(std::move(space));
    }

    // Each layer counts once in the total, and is reclaimable when no image that a
    // container uses contains it.
    std::set<std::string> layers_in_use;
    for (const auto& image : report.images) {
        if (image.containers > 0) layers_in_use.insert(layers_of_image[image.id].begin(), layers_of_image[image.id].end());
    }
    for (const auto& [digest, bytes] : sizes) {
        report.images_size += bytes;
        if (!layers_in_use.count(digest)) report.images_reclaimable += bytes;
    }

    for (const auto& volume : volume::list_volumes(store.paths())) {
        report.volumes.push_back({volume.name, volume_links[volume.name], disk_usage(volume.mountpoint)});
    }
    return report;
}

std::string format_disk_space(const SpaceReport& report, bool verbose) {
    return verbose ? verbose_tables(report) : summary(report);
}

}  // namespace isolab::container
