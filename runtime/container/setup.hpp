#pragma once
// The steps of setting up a container that `run` in the foreground and the monitor of a
// detached container share. They are defined in run.cpp.
#include <string>

#include "runtime/container/launch.hpp"
#include "runtime/container/record.hpp"
#include "runtime/container/run.hpp"
#include "runtime/linux/cgroups.hpp"
#include "runtime/linux/namespaces.hpp"
#include "runtime/network/attachment.hpp"

namespace isolab::container {

// Throws Error unless this process is root and the kernel has overlayfs.
void check_host_can_run();

// Throws Error (exit code 125) for an invalid request, before anything is created.
void check_options(const RunOptions& options);

// Resolves `reference` in the store and unpacks its layers.
ImageRootfs load_image_rootfs(image::Store& store, const std::string& reference);

// The config.json of a new container: a fresh id, the name, the workload's argv and env.
ContainerConfig make_config(const ImageRootfs& image, const RunOptions& options);

// What the first process of the container needs to build its rootfs and exec the workload.
LaunchPlan launch_plan(const ContainerConfig& config, const ContainerPaths& paths, const ImageRootfs& image,
                       const RunOptions& options);

// Adds the bind mounts of /etc/hosts, /etc/hostname and /etc/resolv.conf of a container
// on a bridge network.
void add_network_mounts(LaunchPlan& plan, const network::ContainerNetwork& network);

kernel::CgroupLimits cgroup_limits(const RunOptions& options);

// Waits for the first process, sampling the cgroup's memory where the kernel keeps no peak.
int wait_for_exit(kernel::ChildProcess& child, kernel::Cgroup& cgroup);

}  // namespace isolab::container
