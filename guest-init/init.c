/*
 * isolab-init: the first process of a VM guest and, with --init, of a container.
 *
 * VM mode (PID 1 with /.isolab/argv or /.isolab/root-device present): mounts the kernel
 * filesystems, runs the workload described by /.isolab/{argv,env,workdir,user}, reports
 * phases and the exit code on the console and powers the guest off. With
 * /.isolab/root-device it first loads the modules listed in /.isolab/modules, mounts the
 * ext4 root device and switches to it, as an initramfs of a disk-booted system does.
 * The workload's stdout and stderr are a pipe that the init copies to the console (as a
 * container without a terminal sees them), so the init knows where console lines start.
 *
 * Console protocol, each line at the start of a console line:
 *   isolab-init: phase init-start uptime_ms=<ms>
 *   isolab-init: phase workload-start uptime_ms=<ms>
 *   isolab-init: error <text>
 *   isolab-init: exit code=<n> uptime_ms=<ms>
 * uptime_ms is CLOCK_BOOTTIME in milliseconds, so kernel start is 0.
 *
 * Container mode (`isolab-init -- COMMAND [ARGS...]`): runs COMMAND as a child, forwards
 * SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH to it, reaps every
 * orphan and exits with COMMAND's exit code, or 128 + signal when it was killed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <arpa/inet.h>
#include <linux/input.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <termios.h>
#include <unistd.h>

#define CONFIG_DIR "/.isolab"
#define NEW_ROOT "/newroot"
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_GROUPS 64
#define DEVICE_WAIT_MS 10000

/* ---- console output ---------------------------------------------------------- */

/* Console file descriptor for protocol lines (the init's own stdout). */
static int console_fd = STDOUT_FILENO;
/* False when the console's last output did not end with a newline. It starts false
 * because firmware (SeaBIOS prints "Booting from ROM..") may leave a line open. */
static bool console_at_line_start = false;

static void write_all(int fd, const char *data, size_t size) {
    while (size > 0) {
        ssize_t count = write(fd, data, size);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) return;
        data += count;
        size -= (size_t)count;
    }
}

static long long uptime_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_BOOTTIME, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Writes one protocol line, starting a new console line first if needed. */
__attribute__((format(printf, 1, 2))) static void protocol_line(const char *format, ...) {
    char line[1024];
    size_t length = 0;
    if (!console_at_line_start) line[length++] = '\n';
    memcpy(line + length, "isolab-init: ", 13);
    length += 13;

    va_list arguments;
    va_start(arguments, format);
    int printed = vsnprintf(line + length, sizeof line - length - 1, format, arguments);
    va_end(arguments);
    if (printed < 0) return;
    length += (size_t)printed < sizeof line - length - 1 ? (size_t)printed : sizeof line - length - 2;
    line[length++] = '\n';

    write_all(console_fd, line, length);
    console_at_line_start = true;
}

/* ---- small file helpers --------------------------------------------------------- */

/* Reads a whole file into a NUL-terminated buffer; returns NULL and sets errno on failure. */
static char *read_whole_file(const char *path, size_t *size_out) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t capacity = 4096, size = 0;
    char *data = malloc(capacity);
    while (data != NULL) {
        if (size + 1 >= capacity) {
            capacity *= 2;
            char *grown = realloc(data, capacity);
            if (grown == NULL) {
                free(data);
                data = NULL;
                break;
            }
            data = grown;
        }
        ssize_t count = read(fd, data + size, capacity - size - 1);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) {
            int saved = errno;
            free(data);
            data = NULL;
            errno = saved;
            break;
        }
        if (count == 0) break;
        size += (size_t)count;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    if (data == NULL) return NULL;
    data[size] = '\0';
    if (size_out != NULL) *size_out = size;
    return data;
}

/* Splits NUL-separated strings into a NULL-terminated vector pointing into `data`. */
static char **split_nul_list(char *data, size_t size) {
    size_t count = 0;
    for (size_t i = 0; i < size; ++i)
        if (data[i] == '\0') ++count;
    if (size > 0 && data[size - 1] != '\0') ++count;

    char **list = calloc(count + 1, sizeof *list);
    if (list == NULL) return NULL;
    size_t index = 0;
    for (size_t start = 0; start < size && index < count; ++index) {
        list[index] = data + start;
        start += strlen(data + start) + 1;
    }
    return list;
}

static void trim_trailing_whitespace(char *text) {
    size_t length = strlen(text);
    while (length > 0 && (text[length - 1] == '\n' || text[length - 1] == ' ' || text[length - 1] == '\r')) {
        text[--length] = '\0';
    }
}

/* ---- process exit status ---------------------------------------------------------- */

static int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

/* ---- PATH lookup and exec (shared by both modes) ----------------------------------- */

static const char *find_variable(char **environment, const char *name) {
    size_t length = strlen(name);
    for (char **entry = environment; entry != NULL && *entry != NULL; ++entry) {
        if (strncmp(*entry, name, length) == 0 && (*entry)[length] == '=') return *entry + length + 1;
    }
    return NULL;
}

/*
 * Executes argv[0], searched in `search_path` when it has no slash, as execvpe does.
 * Returns only on failure, with errno ENOENT when no candidate existed and EACCES (or the
 * first other error) when one existed but could not be executed.
 */
static void exec_in_path(char **argv, char **environment, const char *search_path) {
    if (strchr(argv[0], '/') != NULL) {
        execve(argv[0], argv, environment);
        return;
    }
    int first_error = ENOENT;
    const char *start = search_path;
    while (true) {
        const char *end = strchr(start, ':');
        size_t length = end != NULL ? (size_t)(end - start) : strlen(start);
        char candidate[4096];
        if (length == 0) {
            snprintf(candidate, sizeof candidate, "%s", argv[0]);
        } else {
            snprintf(candidate, sizeof candidate, "%.*s/%s", (int)length, start, argv[0]);
        }
        execve(candidate, argv, environment);
        if (errno != ENOENT && errno != ENOTDIR && first_error == ENOENT) first_error = errno;
        if (end == NULL) break;
        start = end + 1;
    }
    errno = first_error;
}

static int exec_failure_code(int error) { return error == ENOENT || error == ENOTDIR ? 127 : 126; }

/* ---- container mode ------------------------------------------------------------------- */

static const int forwarded_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

static int container_mode(char **command) {
    if (command[0] == NULL) {
        fprintf(stderr, "isolab-init: error missing command; usage: isolab-init -- COMMAND [ARGS...]\n");
        return 2;
    }
    /* Outside a PID namespace orphans would go to the real init; a subreaper gets them. */
    if (getpid() != 1) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

    sigset_t handled, original;
    sigemptyset(&handled);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; ++i) {
        sigaddset(&handled, forwarded_signals[i]);
    }
    sigaddset(&handled, SIGCHLD);
    sigprocmask(SIG_BLOCK, &handled, &original);

    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "isolab-init: error fork: %s\n", strerror(errno));
        return 1;
    }
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &original, NULL);
        extern char **environ;
        const char *search_path = find_variable(environ, "PATH");
        exec_in_path(command, environ, search_path != NULL ? search_path : DEFAULT_PATH);
        int error = errno;
        fprintf(stderr, "isolab-init: error cannot execute %s: %s\n", command[0], strerror(error));
        _exit(exec_failure_code(error));
    }

    while (true) {
        siginfo_t info;
        int signal_number = sigwaitinfo(&handled, &info);
        if (signal_number < 0) continue;
        if (signal_number != SIGCHLD) {
            kill(child, signal_number);
            continue;
        }
        int status = 0;
        pid_t reaped;
        while ((reaped = waitpid(-1, &status, WNOHANG)) > 0) {
            if (reaped == child) return exit_code_of(status);
        }
    }
}

/* ---- VM mode: filesystems ---------------------------------------------------------- */

static void make_folder(const char *path, mode_t mode) {
    if (mkdir(path, mode) != 0 && errno != EEXIST) {
        protocol_line("error mkdir %s: %s", path, strerror(errno));
    }
}

static void mount_filesystem(const char *type, const char *target, unsigned long flags, const char *options) {
    make_folder(target, 0755);
    if (mount(type, target, type, flags, options) != 0 && errno != EBUSY) {
        protocol_line("error mount %s on %s: %s", type, target, strerror(errno));
    }
}

/* Makes fds 0-2 the console when the kernel could not open it before running /init. */
static void open_console(void) {
    if (fcntl(STDOUT_FILENO, F_GETFD) == 0) return;
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0) return;
    for (int target = 0; target <= 2; ++target) dup2(fd, target);
    if (fd > 2) close(fd);
}

static void mount_kernel_filesystems(void) {
    mount_filesystem("proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_filesystem("sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_filesystem("devtmpfs", "/dev", MS_NOSUID, "mode=0755");
    open_console();
}

static void mount_runtime_filesystems(void) {
    mount_filesystem("devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666");
    mount_filesystem("tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, "mode=1777");
    mount_filesystem("tmpfs", "/run", MS_NOSUID | MS_NODEV, "mode=0755");
    mount_filesystem("tmpfs", "/tmp", MS_NOSUID | MS_NODEV, "mode=1777");
}

/* ---- VM mode: disk form -------------------------------------------------------------- */

/* Loads each module listed (one absolute path a line) in the file `list_path`, in order.
 * A missing list loads nothing and counts as success. */
static bool load_module_list(const char *list_path) {
    char *list = read_whole_file(list_path, NULL);
    if (list == NULL) return errno == ENOENT;
    bool loaded_all = true;
    for (char *line = strtok(list, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        trim_trailing_whitespace(line);
        if (*line == '\0') continue;
        int fd = open(line, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            protocol_line("error cannot open module %s: %s", line, strerror(errno));
            loaded_all = false;
            continue;
        }
        if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST) {
            protocol_line("error cannot load module %s: %s", line, strerror(errno));
            loaded_all = false;
        }
        close(fd);
    }
    free(list);
    return loaded_all;
}

static bool wait_for_device(const char *device) {
    struct timespec pause = {0, 5 * 1000 * 1000};
    for (long long waited = 0; waited < DEVICE_WAIT_MS; waited += 5) {
        struct stat info;
        if (stat(device, &info) == 0 && S_ISBLK(info.st_mode)) return true;
        nanosleep(&pause, NULL);
    }
    return false;
}

static bool copy_file(const char *source, const char *destination) {
    size_t size = 0;
    char *data = read_whole_file(source, &size);
    if (data == NULL) return errno == ENOENT;
    int fd = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(data);
        return false;
    }
    write_all(fd, data, size);
    free(data);
    return close(fd) == 0;
}

/* Copies the workload files from the initramfs to the disk's /.isolab/. */
static bool copy_workload_config(void) {
    static const char *const names[] = {"argv", "env", "workdir", "user", "mounts", "resolv.conf"};
    make_folder(NEW_ROOT CONFIG_DIR, 0755);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
        char source[256], destination[256];
        snprintf(source, sizeof source, CONFIG_DIR "/%s", names[i]);
        snprintf(destination, sizeof destination, NEW_ROOT CONFIG_DIR "/%s", names[i]);
        if (!copy_file(source, destination)) {
            protocol_line("error cannot copy %s to %s: %s", source, destination, strerror(errno));
            return false;
        }
    }
    return true;
}

/* Deletes the initramfs content on the root device, staying off other mounts, as
 * util-linux switch_root does, so its memory is freed. */
static void remove_tree(int folder_fd, dev_t root_device) {
    DIR *folder = fdopendir(folder_fd);
    if (folder == NULL) {
        close(folder_fd);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(folder)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        struct stat info;
        if (fstatat(dirfd(folder), entry->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0) continue;
        bool is_folder = S_ISDIR(info.st_mode);
        if (is_folder) {
            if (info.st_dev != root_device) continue;
            int child = openat(dirfd(folder), entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (child >= 0) remove_tree(child, root_device);
        }
        unlinkat(dirfd(folder), entry->d_name, is_folder ? AT_REMOVEDIR : 0);
    }
    closedir(folder);
}

static bool move_to_new_root(const char *source) {
    char target[64];
    snprintf(target, sizeof target, NEW_ROOT "%s", source);
    make_folder(target, 0755);
    if (mount(source, target, NULL, MS_MOVE, NULL) != 0) {
        protocol_line("error cannot move %s to %s: %s", source, target, strerror(errno));
        return false;
    }
    return true;
}

static bool switch_to_new_root(void) {
    struct stat root_info;
    if (stat("/", &root_info) != 0) return false;
    if (!move_to_new_root("/dev") || !move_to_new_root("/proc") || !move_to_new_root("/sys")) return false;
    if (chdir(NEW_ROOT) != 0) return false;

    int old_root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (mount(".", "/", NULL, MS_MOVE, NULL) != 0 || chroot(".") != 0 || chdir("/") != 0) {
        protocol_line("error cannot switch to the new root: %s", strerror(errno));
        if (old_root >= 0) close(old_root);
        return false;
    }
    if (old_root >= 0) remove_tree(old_root, root_info.st_dev);
    return true;
}

/* Mounts the disk named in /.isolab/root-device and makes it the root. */
static bool mount_disk_root(void) {
    char *device = read_whole_file(CONFIG_DIR "/root-device", NULL);
    if (device == NULL) {
        protocol_line("error cannot read " CONFIG_DIR "/root-device: %s", strerror(errno));
        return false;
    }
    trim_trailing_whitespace(device);

    bool ok = load_module_list(CONFIG_DIR "/modules");
    if (ok && !wait_for_device(device)) {
        protocol_line("error root device %s did not appear within %d ms", device, DEVICE_WAIT_MS);
        ok = false;
    }
    if (ok) {
        make_folder(NEW_ROOT, 0755);
        if (mount(device, NEW_ROOT, "ext4", 0, NULL) != 0) {
            protocol_line("error cannot mount %s (ext4) on " NEW_ROOT ": %s", device, strerror(errno));
            ok = false;
        }
    }
    free(device);
    return ok && copy_workload_config() && switch_to_new_root();
}

/* ---- VM mode: network and shared folders ---------------------------------------------- */

/* Copies the value of the kernel parameter `name` (as in name=value) from `cmdline` into
 * `value`; false when the parameter is absent. */
static bool cmdline_value(const char *cmdline, const char *name, char *value, size_t size) {
    size_t length = strlen(name);
    const char *word = cmdline;
    while (*word != '\0') {
        word += strspn(word, " \n");
        size_t word_length = strcspn(word, " \n");
        if (word_length > length && strncmp(word, name, length) == 0 && word[length] == '=') {
            snprintf(value, size, "%.*s", (int)(word_length - length - 1), word + length + 1);
            return true;
        }
        word += word_length;
    }
    return false;
}

static bool set_ipv4(int sock, unsigned long request_code, const char *interface, in_addr_t address) {
    struct ifreq request;
    memset(&request, 0, sizeof request);
    snprintf(request.ifr_name, IFNAMSIZ, "%s", interface);
    struct sockaddr_in *ipv4 = (struct sockaddr_in *)&request.ifr_addr;
    ipv4->sin_family = AF_INET;
    ipv4->sin_addr.s_addr = address;
    return ioctl(sock, request_code, &request) == 0;
}

static bool set_up(int sock, const char *interface) {
    struct ifreq request;
    memset(&request, 0, sizeof request);
    snprintf(request.ifr_name, IFNAMSIZ, "%s", interface);
    if (ioctl(sock, SIOCGIFFLAGS, &request) != 0) return false;
    request.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(sock, SIOCSIFFLAGS, &request) == 0;
}

static bool add_default_route(int sock, in_addr_t gateway) {
    struct rtentry route;
    memset(&route, 0, sizeof route);
    struct sockaddr_in *destination = (struct sockaddr_in *)&route.rt_dst;
    struct sockaddr_in *mask = (struct sockaddr_in *)&route.rt_genmask;
    struct sockaddr_in *via = (struct sockaddr_in *)&route.rt_gateway;
    destination->sin_family = mask->sin_family = via->sin_family = AF_INET;
    via->sin_addr.s_addr = gateway;
    route.rt_flags = RTF_UP | RTF_GATEWAY;
    return ioctl(sock, SIOCADDRT, &route) == 0;
}

/* Gives eth0 the static address of the kernel parameters isolab.ip=ADDRESS/PREFIX and
 * isolab.gateway=ADDRESS, sets lo and eth0 up and adds the default route. Does nothing
 * without isolab.ip (a VM run with --network none). The virtio_net module is loaded
 * from /.isolab/early-modules by then. */
static bool configure_network(void) {
    char *cmdline = read_whole_file("/proc/cmdline", NULL);
    char address_text[64], gateway_text[64] = "";
    bool wanted = cmdline != NULL && cmdline_value(cmdline, "isolab.ip", address_text, sizeof address_text);
    if (wanted) cmdline_value(cmdline, "isolab.gateway", gateway_text, sizeof gateway_text);
    free(cmdline);
    if (!wanted) return true;

    char *slash = strchr(address_text, '/');
    int prefix = slash != NULL ? atoi(slash + 1) : 32;
    if (slash != NULL) *slash = '\0';
    struct in_addr address, gateway = {0};
    if (inet_pton(AF_INET, address_text, &address) != 1 || prefix < 1 || prefix > 32 ||
        (gateway_text[0] != '\0' && inet_pton(AF_INET, gateway_text, &gateway) != 1)) {
        protocol_line("error invalid isolab.ip=%s or isolab.gateway=%s", address_text, gateway_text);
        return false;
    }
    in_addr_t netmask = htonl(prefix == 32 ? 0xffffffffU : ~(0xffffffffU >> prefix));

    struct stat info;
    struct timespec pause = {0, 5 * 1000 * 1000};
    long long waited = 0;
    while (stat("/sys/class/net/eth0", &info) != 0 && waited < DEVICE_WAIT_MS) {
        nanosleep(&pause, NULL);
        waited += 5;
    }
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool ok = sock >= 0 && set_up(sock, "lo");
    if (!ok) protocol_line("error cannot set lo up: %s", strerror(errno));
    if (ok && !(set_ipv4(sock, SIOCSIFADDR, "eth0", address.s_addr) && set_ipv4(sock, SIOCSIFNETMASK, "eth0", netmask) &&
                set_up(sock, "eth0"))) {
        protocol_line("error cannot configure eth0 with %s/%d: %s", address_text, prefix, strerror(errno));
        ok = false;
    }
    if (ok && gateway.s_addr != 0 && !add_default_route(sock, gateway.s_addr)) {
        protocol_line("error cannot add the default route via %s: %s", gateway_text, strerror(errno));
        ok = false;
    }
    if (sock >= 0) close(sock);
    return ok;
}

/* Copies /.isolab/resolv.conf, which the host writes for a VM on a bridge network, to
 * /etc/resolv.conf, replacing the image's file or symlink. A missing file changes nothing. */
static bool install_resolv_conf(void) {
    if (access(CONFIG_DIR "/resolv.conf", F_OK) != 0) return true;
    make_folder("/etc", 0755);
    if (unlink("/etc/resolv.conf") != 0 && errno != ENOENT) {
        protocol_line("error cannot replace /etc/resolv.conf: %s", strerror(errno));
        return false;
    }
    if (!copy_file(CONFIG_DIR "/resolv.conf", "/etc/resolv.conf")) {
        protocol_line("error cannot write /etc/resolv.conf: %s", strerror(errno));
        return false;
    }
    return true;
}

/* Creates `path` and every missing parent, as mkdir -p does. */
static void make_folders(const char *path) {
    char partial[4096];
    snprintf(partial, sizeof partial, "%s", path);
    for (char *slash = strchr(partial + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(partial, 0755) != 0 && errno != EEXIST) break;
        *slash = '/';
    }
    make_folder(partial, 0755);
}

/* Mounts each shared folder of /.isolab/mounts (NUL-separated triples of mount tag, guest
 * path and "ro" or "rw") over virtio-9p. A missing file mounts nothing. */
static bool mount_shared_folders(void) {
    size_t size = 0;
    char *data = read_whole_file(CONFIG_DIR "/mounts", &size);
    if (data == NULL) return errno == ENOENT;
    char **fields = split_nul_list(data, size);
    bool ok = fields != NULL;
    for (size_t i = 0; ok && fields[i] != NULL && fields[i + 1] != NULL && fields[i + 2] != NULL; i += 3) {
        const char *tag = fields[i], *target = fields[i + 1];
        unsigned long flags = strcmp(fields[i + 2], "ro") == 0 ? MS_RDONLY : 0;
        make_folders(target);
        if (mount(tag, target, "9p", flags, "trans=virtio,version=9p2000.L") != 0) {
            protocol_line("error cannot mount shared folder %s on %s: %s", tag, target, strerror(errno));
            ok = false;
        }
    }
    free(fields);
    free(data);
    return ok;
}

/* ---- VM mode: the ACPI power button ---------------------------------------------------- */

#define MAX_INPUT_DEVICES 4

/* Opens up to MAX_INPUT_DEVICES /dev/input/event* devices that report KEY_POWER (the ACPI
 * power button, once button.ko and evdev.ko from /.isolab/early-modules are loaded).
 * Returns how many were opened into `fds`. */
static int open_power_buttons(int fds[MAX_INPUT_DEVICES]) {
    int count = 0;
    DIR *folder = opendir("/dev/input");
    if (folder == NULL) return 0;
    struct dirent *entry;
    while ((entry = readdir(folder)) != NULL && count < MAX_INPUT_DEVICES) {
        if (strncmp(entry->d_name, "event", 5) != 0) continue;
        char path[300];
        snprintf(path, sizeof path, "/dev/input/%s", entry->d_name);
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) continue;
        unsigned char keys[KEY_MAX / 8 + 1];
        memset(keys, 0, sizeof keys);
        bool has_power = ioctl(fd, EVIOCGBIT(EV_KEY, sizeof keys), keys) >= 0 && (keys[KEY_POWER / 8] & (1 << (KEY_POWER % 8)));
        if (has_power) {
            fds[count++] = fd;
        } else {
            close(fd);
        }
    }
    closedir(folder);
    return count;
}

/* Reads the pending events of an input device; true when the power button was pressed. */
static bool power_button_pressed(int fd) {
    struct input_event events[16];
    bool pressed = false;
    ssize_t count;
    while ((count = read(fd, events, sizeof events)) > 0) {
        for (size_t i = 0; i < (size_t)count / sizeof events[0]; ++i) {
            if (events[i].type == EV_KEY && events[i].code == KEY_POWER && events[i].value == 1) pressed = true;
        }
    }
    return pressed;
}

/* ---- VM mode: the workload ------------------------------------------------------------ */

struct workload {
    char *argv_data, *env_data;
    char **argv, **env;
    char workdir[4096];
    uid_t uid;
    gid_t gid;
    gid_t groups[MAX_GROUPS];
    int group_count;
};

static bool parse_user(const char *text, struct workload *workload) {
    char *end;
    workload->uid = (uid_t)strtoul(text, &end, 10);
    if (end == text || *end != ':') return false;
    const char *gid_text = end + 1;
    workload->gid = (gid_t)strtoul(gid_text, &end, 10);
    if (end == gid_text) return false;
    workload->group_count = 0;
    if (*end == '\0') return true;
    if (*end != ':') return false;
    const char *cursor = end + 1;
    while (*cursor != '\0' && workload->group_count < MAX_GROUPS) {
        workload->groups[workload->group_count++] = (gid_t)strtoul(cursor, &end, 10);
        if (end == cursor || (*end != ',' && *end != '\0')) return false;
        cursor = *end == ',' ? end + 1 : end;
    }
    return true;
}

static bool read_workload(struct workload *workload) {
    size_t size = 0;
    workload->argv_data = read_whole_file(CONFIG_DIR "/argv", &size);
    if (workload->argv_data == NULL) {
        protocol_line("error cannot read " CONFIG_DIR "/argv: %s", strerror(errno));
        return false;
    }
    workload->argv = split_nul_list(workload->argv_data, size);
    if (workload->argv == NULL || workload->argv[0] == NULL) {
        protocol_line("error " CONFIG_DIR "/argv is empty");
        return false;
    }

    workload->env_data = read_whole_file(CONFIG_DIR "/env", &size);
    if (workload->env_data == NULL) size = 0;
    workload->env = split_nul_list(workload->env_data != NULL ? workload->env_data : (char[1]){0}, size);

    char *workdir = read_whole_file(CONFIG_DIR "/workdir", NULL);
    snprintf(workload->workdir, sizeof workload->workdir, "%s", workdir != NULL && *workdir != '\0' ? workdir : "/");
    free(workdir);
    trim_trailing_whitespace(workload->workdir);
    if (workload->workdir[0] == '\0') snprintf(workload->workdir, sizeof workload->workdir, "/");

    char *user = read_whole_file(CONFIG_DIR "/user", NULL);
    bool valid = parse_user(user != NULL ? user : "0:0", workload);
    if (!valid) protocol_line("error invalid " CONFIG_DIR "/user '%s' (expected uid:gid[:gid,...])", user);
    free(user);
    return valid;
}

/* Runs in the forked child: drops to the workload's user and executes it. */
static void exec_workload(const struct workload *workload, int output_fd) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    dup2(output_fd, STDOUT_FILENO);
    dup2(output_fd, STDERR_FILENO);
    close(output_fd);

    if (setgroups((size_t)workload->group_count, workload->groups) != 0 || setgid(workload->gid) != 0 ||
        setuid(workload->uid) != 0) {
        protocol_line("error cannot switch to user %u:%u: %s", workload->uid, workload->gid, strerror(errno));
        _exit(126);
    }
    if (chdir(workload->workdir) != 0) {
        protocol_line("error cannot change to working directory %s: %s", workload->workdir, strerror(errno));
        _exit(126);
    }
    const char *search_path = find_variable(workload->env, "PATH");
    exec_in_path(workload->argv, workload->env, search_path != NULL ? search_path : DEFAULT_PATH);
    int error = errno;
    protocol_line("error cannot execute %s: %s", workload->argv[0], strerror(error));
    _exit(exec_failure_code(error));
}

/* Copies what is readable on `fd` to the console; returns false at end of file. */
static bool relay_output(int fd) {
    char buffer[4096];
    ssize_t count = read(fd, buffer, sizeof buffer);
    if (count < 0) return errno == EINTR || errno == EAGAIN;
    if (count == 0) return false;
    write_all(console_fd, buffer, (size_t)count);
    console_at_line_start = buffer[count - 1] == '\n';
    return true;
}

/*
 * Forks the workload with stdout and stderr on a pipe the init copies to the console,
 * which lets the init know whether the output ended mid-line. Reaps every other child
 * while waiting. A press of the ACPI power button sends SIGTERM to the workload's process
 * group, as `docker stop` does; the guest powers off when the workload has exited.
 * Returns the workload's exit code.
 */
static int run_workload(const struct workload *workload) {
    sigset_t child_signals;
    sigemptyset(&child_signals);
    sigaddset(&child_signals, SIGCHLD);
    sigprocmask(SIG_BLOCK, &child_signals, NULL);
    int child_events = signalfd(-1, &child_signals, SFD_CLOEXEC);

    int output[2];
    if (child_events < 0 || pipe2(output, O_CLOEXEC) != 0) {
        protocol_line("error cannot set up the workload output: %s", strerror(errno));
        return 127;
    }
    protocol_line("phase workload-start uptime_ms=%lld", uptime_ms());

    pid_t child = fork();
    if (child < 0) {
        protocol_line("error fork: %s", strerror(errno));
        return 127;
    }
    if (child == 0) {
        close(output[0]);
        exec_workload(workload, output[1]);
    }
    close(output[1]);
    fcntl(output[0], F_SETFL, O_NONBLOCK);

    struct pollfd watched[2 + MAX_INPUT_DEVICES] = {{child_events, POLLIN, 0}, {output[0], POLLIN, 0}};
    int buttons[MAX_INPUT_DEVICES];
    int button_count = open_power_buttons(buttons);
    for (int i = 0; i < button_count; ++i) watched[2 + i] = (struct pollfd){buttons[i], POLLIN, 0};
    while (true) {
        if (poll(watched, (nfds_t)(2 + button_count), -1) < 0) continue;
        if (watched[1].revents != 0 && !relay_output(output[0])) watched[1].fd = -1;
        for (int i = 0; i < button_count; ++i) {
            if (watched[2 + i].revents == 0 || !power_button_pressed(buttons[i])) continue;
            protocol_line("phase power-button uptime_ms=%lld", uptime_ms());
            if (kill(-child, SIGTERM) != 0) kill(child, SIGTERM); /* before its setsid() */
        }
        if (watched[0].revents == 0) continue;

        struct signalfd_siginfo info;
        if (read(child_events, &info, sizeof info) < 0) continue;
        int status = 0;
        pid_t reaped;
        while ((reaped = waitpid(-1, &status, WNOHANG)) > 0) {
            if (reaped != child) continue;
            /* Output still in the pipe belongs before the exit line. Orphans may keep
             * the pipe open, so only what is already there is copied. */
            while (watched[1].fd >= 0 && relay_output(output[0])) {
                struct pollfd pending = {output[0], POLLIN, 0};
                if (poll(&pending, 1, 0) <= 0) break;
            }
            return exit_code_of(status);
        }
    }
}

static void power_off(int exit_code) {
    protocol_line("exit code=%d uptime_ms=%lld", exit_code, uptime_ms());
    /* write() returns once the line is in the serial driver's buffer. Powering off before
     * the UART has sent it loses the exit line, so wait until it has left the guest. */
    tcdrain(console_fd);
    sync();
    reboot(RB_POWER_OFF);
    /* PID 1 must not exit: that would panic the kernel. */
    while (true) pause();
}

static void vm_mode(void) {
    mount_kernel_filesystems();
    protocol_line("phase init-start uptime_ms=%lld", uptime_ms());
    /* Failures only leave the power button unseen: `vm stop` then destroys the guest
     * after its timeout. */
    load_module_list(CONFIG_DIR "/early-modules.list");

    if (access(CONFIG_DIR "/root-device", F_OK) == 0 && !mount_disk_root()) power_off(127);
    mount_runtime_filesystems();
    if (!configure_network() || !install_resolv_conf() || !mount_shared_folders()) power_off(127);

    struct workload workload;
    memset(&workload, 0, sizeof workload);
    if (!read_workload(&workload)) power_off(127);
    power_off(run_workload(&workload));
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--") == 0) return container_mode(argv + 2);

    bool configured = access(CONFIG_DIR "/argv", F_OK) == 0 || access(CONFIG_DIR "/root-device", F_OK) == 0;
    if (getpid() == 1 && configured) vm_mode();

    fprintf(stderr,
            "isolab-init: error nothing to run; usage: isolab-init -- COMMAND [ARGS...] "
            "(or run as PID 1 of a VM with " CONFIG_DIR "/argv)\n");
    return 2;
}
